import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dropDatabase, redisConnection, signToken } from '@tessera/adapters';

const ROOT = join(__dirname, '..', '..', '..', '..');
const SERVICES = {
  gateway: 'services/gateway/dist/main.js',
  'chunk-worker': 'services/chunk-worker/dist/main.js',
  notifier: 'services/notifier/dist/main.js',
} as const;
export type ServiceName = keyof typeof SERVICES;

export interface Stack {
  gatewayUrl: string;
  notifierUrl: string;
  databaseUrl: string;
  blobDir: string;
  token(owner: string): Promise<string>;
  /** Peak resident memory (VmHWM) of each service so far, bytes. */
  peakRss(): Record<ServiceName, number>;
  logs(name: ServiceName): string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function waitFor(url: string, timeoutMs: number, describe: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms.\n${describe()}`);
}

/** Removes this run's queues and job records, so repeated runs leave Redis as they found it. */
async function deleteKeys(redisUrl: string, pattern: string): Promise<void> {
  const redis = redisConnection(redisUrl, { maxRetriesPerRequest: 3 });
  try {
    for await (const keys of redis.scanStream({ match: pattern, count: 1000 })) {
      if ((keys as string[]).length > 0) await redis.del(...(keys as string[]));
    }
  } finally {
    redis.disconnect();
  }
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/**
 * Runs the three services from their builds as separate processes, against a fresh
 * database, a private Redis key prefix and a temporary blob folder.
 */
export async function startStack(overrides: Record<string, string> = {}): Promise<Stack> {
  const baseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const run = `${process.pid}_${randomBytes(3).toString('hex')}`;
  const databaseUrl = withDatabase(baseUrl, `tessera_e2e_${run}`);
  const blobDir = mkdtempSync(join(tmpdir(), 'tessera-e2e-'));
  const secret = randomBytes(32).toString('base64url');
  const [gatewayPort, notifierPort] = [await freePort(), await freePort()];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.E2E_LOG_LEVEL ?? 'info',
    DATABASE_URL: databaseUrl,
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    REDIS_PREFIX: `tessera-e2e-${run}`,
    BLOB_DIR: blobDir,
    AUTH_JWT_SECRET: secret,
    HOST: '127.0.0.1',
    ...overrides,
  };

  const migrated = spawnSync(process.execPath, [join(ROOT, 'libs/adapters/dist/postgres/migrate-cli.js')], { env, encoding: 'utf8' });
  if (migrated.status !== 0) throw new Error(`migrations failed:\n${migrated.stdout}\n${migrated.stderr}`);

  const output: Record<string, string[]> = {};
  const children = new Map<ServiceName, ChildProcess>();
  for (const [name, script] of Object.entries(SERVICES) as [ServiceName, string][]) {
    const port = name === 'gateway' ? gatewayPort : name === 'notifier' ? notifierPort : 0;
    const child = spawn(process.execPath, [join(ROOT, script)], { env: { ...env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    output[name] = lines;
    child.stdout!.on('data', (d: Buffer) => lines.push(d.toString()));
    child.stderr!.on('data', (d: Buffer) => lines.push(d.toString()));
    children.set(name, child);
  }
  const logs = (name: ServiceName) => (output[name] ?? []).join('');
  const allLogs = () => Object.keys(SERVICES).map((n) => `--- ${n}\n${logs(n as ServiceName)}`).join('\n');

  const stop = async () => {
    await Promise.all(
      [...children.values()].map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
            child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
    rmSync(blobDir, { recursive: true, force: true });
    await dropDatabase(databaseUrl);
    await deleteKeys(env.REDIS_URL!, `${env.REDIS_PREFIX}:*`);
  };

  try {
    await waitFor(`http://127.0.0.1:${gatewayPort}/readyz`, 30_000, allLogs);
    await waitFor(`http://127.0.0.1:${notifierPort}/healthz`, 30_000, allLogs);
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    gatewayUrl: `http://127.0.0.1:${gatewayPort}`,
    notifierUrl: `http://127.0.0.1:${notifierPort}`,
    databaseUrl,
    blobDir,
    token: (owner) => signToken(secret, owner, { expiresIn: '1h' }),
    peakRss() {
      const result = {} as Record<ServiceName, number>;
      for (const [name, child] of children) {
        const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
        const kib = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
        result[name] = kib * 1024;
      }
      return result;
    },
    logs,
    stop,
  };
}
