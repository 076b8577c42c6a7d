import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';

export interface BundledPage {
  /** Temp folder holding `main.js` (+ source map) and the page's other files. */
  dir: string;
  remove(): void;
}

/**
 * Builds a test page at run time: `<pageDir>/main.ts` bundled with everything it imports
 * (from node_modules, no CDN) into `main.js`, next to copies of the folder's other
 * non-TypeScript files (index.html...), in a fresh temp folder. Nothing is written
 * into the repository.
 */
export async function bundlePage(pageDir: string, define: Record<string, string> = {}): Promise<BundledPage> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-page-'));
  try {
    await build({
      entryPoints: [join(pageDir, 'main.ts')],
      outfile: join(dir, 'main.js'),
      bundle: true,
      platform: 'browser',
      format: 'esm',
      target: 'es2022',
      sourcemap: true,
      logLevel: 'silent',
      define: { 'process.env.NODE_ENV': '"production"', ...define },
    });
    for (const name of readdirSync(pageDir)) {
      if (!/\.tsx?$/.test(name)) copyFileSync(join(pageDir, name), join(dir, name));
    }
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
