// `npm start`: applies migrations, then runs the gateway, the chunk-worker and the
// notifier side by side against DATABASE_URL / REDIS_URL, until Ctrl-C.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const env = { ...process.env };
env.BLOB_DIR ??= join(root, 'data', 'blobs');
// The web page at / gets a development token for the owner of the token printed below (never in production).
if (env.NODE_ENV !== 'production') env.DEV_TOKEN_SUBJECT ??= 'dev-user';

// Each service reads PORT; here they get their own so one shell can run all three.
const gatewayPort = env.GATEWAY_PORT ?? '3000';
const SERVICES = [
  ['gateway', 'services/gateway/dist/main.js', { PORT: gatewayPort }],
  ['chunk-worker', 'services/chunk-worker/dist/main.js', {}],
  ['notifier', 'services/notifier/dist/main.js', { PORT: env.NOTIFIER_PORT ?? '3001' }],
];

/** A development secret that survives restarts, so tokens printed earlier keep working. */
function devSecret() {
  const file = join(root, 'data', 'dev-jwt-secret');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dirname(file), { recursive: true });
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

function run(name, script, overrides = {}) {
  const child = spawn(process.execPath, [join(root, script)], { env: { ...env, ...overrides }, stdio: ['ignore', 'pipe', 'pipe'] });
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => console.log(line.startsWith(`[${name}]`) ? line : `[${name}] ${line}`));
  }
  return child;
}

function exited(child) {
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
}

if (!env.AUTH_JWT_SECRET) {
  if (env.NODE_ENV === 'production') {
    console.error('AUTH_JWT_SECRET is not set. In production Tessera refuses to make one up: set a secret of 32+ characters shared by the gateway and the notifier.');
    process.exit(1);
  }
  env.AUTH_JWT_SECRET = devSecret();
}

const migrate = await exited(run('migrate', 'libs/adapters/dist/postgres/migrate-cli.js'));
if (migrate !== 0) {
  console.error('Migrations failed (see above); the services were not started.');
  process.exit(migrate);
}

const children = SERVICES.map(([name, script, overrides]) => ({ name, child: run(name, script, overrides) }));
let stopping = false;

async function stopAll(code) {
  if (stopping) return;
  stopping = true;
  for (const { child } of children) if (child.exitCode === null) child.kill('SIGTERM');
  await Promise.all(children.map(({ child }) => (child.exitCode === null ? exited(child) : undefined)));
  process.exit(code);
}

for (const { name, child } of children) {
  exited(child).then((code) => {
    if (stopping) return;
    console.error(`${name} exited with code ${code}; stopping the other services.`);
    void stopAll(code || 1);
  });
}
process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));

/** Waits until the gateway answers, so the hint below comes after the services' start lines. */
async function gatewayUp() {
  for (let i = 0; i < 150 && !stopping; i++) {
    if (await fetch(`http://127.0.0.1:${gatewayPort}/healthz`).then((r) => r.ok, () => false)) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

if (env.NODE_ENV !== 'production' && !process.env.AUTH_JWT_SECRET && (await gatewayUp())) {
  const { signToken } = require('@tessera/adapters');
  const token = await signToken(env.AUTH_JWT_SECRET, 'dev-user', { expiresIn: '30d' });
  console.log(
    [
      '',
      'Development token for owner "dev-user" (valid 30 days; the secret is kept in data/dev-jwt-secret):',
      `  export TOKEN=${token}`,
      `  curl -s -H "Authorization: Bearer $TOKEN" http://localhost:${gatewayPort}/v1/uploads`,
      'Ctrl-C stops all services.',
      '',
    ].join('\n'),
  );
}
