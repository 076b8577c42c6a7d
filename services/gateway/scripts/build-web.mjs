// Builds the upload web page served at `/`: web/main.ts (with @tessera/client and
// socket.io-client, everything from node_modules, no CDN) bundled and minified by esbuild
// into dist/public/assets/main-<hash>.{js,css} (+ source maps), and web/index.html
// rewritten to name those files. Type-checks web/ first (esbuild does not); `--no-check`
// skips that. Run by `npm run build` after `tsc -b`.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const webDir = join(root, 'web');
const outDir = join(root, 'dist', 'public');
const assetsDir = join(outDir, 'assets');
const require = createRequire(import.meta.url);

if (!process.argv.includes('--no-check')) {
  const tsc = require.resolve('typescript/bin/tsc');
  const checked = spawnSync(process.execPath, [tsc, '-p', join(webDir, 'tsconfig.json')], { stdio: 'inherit' });
  if (checked.status !== 0) {
    console.error('build-web: the page does not type-check (see above); nothing was written.');
    process.exit(1);
  }
}

const started = Date.now();
const result = await build({
  entryPoints: { main: join(webDir, 'main.ts') },
  outdir: assetsDir,
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  bundle: true,
  platform: 'browser',
  format: 'esm',
  // The oldest browsers with every API the page and @tessera/client use (AbortSignal.timeout, fetch streams).
  target: ['es2022', 'chrome116', 'firefox124', 'safari17.4'],
  minify: true,
  sourcemap: true,
  // Workspace packages from their TypeScript sources (as jest does), so the page does not
  // depend on their build order.
  conditions: ['@tessera/source'],
  define: { 'process.env.NODE_ENV': '"production"' },
  tsconfig: join(webDir, 'tsconfig.json'),
  legalComments: 'linked',
  metafile: true,
  write: false,
  logLevel: 'warning',
});

const entry = Object.entries(result.metafile.outputs).find(([, output]) => output.entryPoint !== undefined);
if (!entry) throw new Error('build-web: esbuild produced no entry script');
const [scriptPath, scriptOutput] = entry;
const stylePath = scriptOutput.cssBundle;
if (!stylePath) throw new Error('build-web: esbuild produced no stylesheet (main.ts imports styles.css)');

// Written only once everything built: a failed build leaves the previous page in place.
rmSync(outDir, { recursive: true, force: true });
mkdirSync(assetsDir, { recursive: true });
for (const file of result.outputFiles) writeFileSync(file.path, file.contents);

const asset = (path) => `assets/${basename(path)}`;
let html = readFileSync(join(webDir, 'index.html'), 'utf8');
for (const [from, to] of [
  ['assets/main.js', asset(scriptPath)],
  ['assets/main.css', asset(stylePath)],
]) {
  if (!html.includes(`"${from}"`)) throw new Error(`build-web: web/index.html does not reference "${from}"`);
  html = html.replace(`"${from}"`, `"${to}"`);
}
writeFileSync(join(outDir, 'index.html'), html);

const sizes = result.outputFiles
  .filter((f) => !f.path.endsWith('.map'))
  .map((f) => `${relative(outDir, f.path)} ${(f.contents.length / 1024).toFixed(1)} KiB`)
  .join(', ');
console.log(`build-web: ${relative(process.cwd(), outDir) || '.'}: index.html, ${sizes} (${Date.now() - started} ms)`);
