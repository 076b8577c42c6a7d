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
export const SERVICE_NAMES = Object.keys(SERVICES) as ServiceName[];

/** How a service process ended. */
export interface ServiceExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** From the signal that `kill` sent (or from the start of the wait) to the exit, ms. */
  ms: number;
  /** True when the process outlived the wait and was killed with SIGKILL. */
  forced: boolean;
}

export interface StackOptions {
  /** Environment of one service only, applied over the shared `overrides`. */
  services?: Partial<Record<ServiceName, Record<string, string>>>;
  /** PostgreSQL server the stack creates its fresh database on (the URL's database name is replaced). */
  databaseUrl?: string;
  /** Redis server of the stack (its keys get a private prefix). */
  redisUrl?: string;
}

export interface Stack {
  gatewayUrl: string;
  notifierUrl: string;
  /** The chunk-worker's health and metrics server (its HTTP_PORT). */
  workerUrl: string;
  databaseUrl: string;
  redisUrl: string;
  redisPrefix: string;
  blobDir: string;
  token(owner: string): Promise<string>;
  /** Peak resident memory (VmHWM) of each running service so far, bytes (0 for one that is not running). */
  peakRss(): Record<ServiceName, number>;
  /** Everything the service printed, across restarts. */
  logs(name: ServiceName): string;
  /** The running process's id, or null while the service is down. */
  pid(name: ServiceName): number | null;
  /**
   * Sends `signal` (default SIGKILL) and resolves once the process has exited. A process
   * still alive after `timeoutMs` is killed with SIGKILL and reported `forced`.
   */
  kill(name: ServiceName, signal?: NodeJS.Signals, timeoutMs?: number): Promise<ServiceExit>;
  /** Sends `signal` without waiting for anything (SIGSTOP / SIGCONT to freeze and thaw a service). */
  signal(name: ServiceName, signal: NodeJS.Signals): void;
  /** Starts a stopped service again with the same environment and port; resolves once it serves. */
  start(name: ServiceName, options?: { waitReady?: boolean }): Promise<void>;
  /** `kill` then `start`. */
  restart(name: ServiceName, signal?: NodeJS.Signals): Promise<ServiceExit>;
  /** How the service's last process ended, or null if it never ended. */
  lastExit(name: ServiceName): ServiceExit | null;
  stop(): Promise<void>;
}

/** Ports this process handed out: the OS may offer a closed one again before its taker binds it. */
const handedOut = new Set<number>();

/** A TCP port nothing listens on right now, and not handed out before by this process. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const { port: picked } = server.address() as { port: number };
        server.close(() => resolve(picked));
      });
    });
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

async function waitFor(url: string, timeoutMs: number, describe: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url, { signal: AbortSignal.timeout(5000) })).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms.\n${describe()}`);
}

/** Removes this run's queues and job records, so repeated runs leave Redis as they found it. */
export async function deleteKeys(redisUrl: string, pattern: string): Promise<void> {
  const redis = redisConnection(redisUrl, { maxRetriesPerRequest: 3 });
  // A Redis a test left stopped must not turn the clean-up into an unhandled error event.
  redis.on('error', () => undefined);
  try {
    for await (const keys of redis.scanStream({ match: pattern, count: 1000 })) {
      if ((keys as string[]).length > 0) await redis.del(...(keys as string[]));
    }
  } finally {
    redis.disconnect();
  }
}

/** `url` with its database name replaced. */
export function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** One service: its fixed environment, and the process currently running it (if any). */
interface ServiceSlot {
  env: NodeJS.ProcessEnv;
  child: ChildProcess | null;
  exit: Promise<ServiceExit> | null;
  lastExit: ServiceExit | null;
  /** When the signal that ends the current process was sent; null until one is. */
  signalledAt: number | null;
  lines: string[];
}

// The worker is ready once it logs that it consumes its queues (its HTTP server answers before that).
const WORKER_READY = /consuming queues/;
const QUIETER_THAN_INFO = new Set(['warn', 'error', 'fatal', 'silent']);

/**
 * Runs the three services from their builds as separate processes, against a fresh
 * database, a private Redis key prefix and a temporary blob folder. Each service can be
 * killed with any signal and started again with the same environment and port.
 */
export async function startStack(overrides: Record<string, string> = {}, options: StackOptions = {}): Promise<Stack> {
  const baseUrl = options.databaseUrl ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const redisUrl = options.redisUrl ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const run = `${process.pid}_${randomBytes(3).toString('hex')}`;
  const databaseUrl = withDatabase(baseUrl, `tessera_e2e_${run}`);
  const redisPrefix = `tessera-e2e-${run}`;
  const blobDir = mkdtempSync(join(tmpdir(), 'tessera-e2e-'));
  const secret = randomBytes(32).toString('base64url');
  const [gatewayPort, notifierPort, workerHttpPort] = [await freePort(), await freePort(), await freePort()];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.E2E_LOG_LEVEL ?? 'info',
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    REDIS_PREFIX: redisPrefix,
    BLOB_DIR: blobDir,
    AUTH_JWT_SECRET: secret,
    HOST: '127.0.0.1',
    ...overrides,
  };

  const migrated = spawnSync(process.execPath, [join(ROOT, 'libs/adapters/dist/postgres/migrate-cli.js')], { env, encoding: 'utf8' });
  if (migrated.status !== 0) throw new Error(`migrations failed:\n${migrated.stdout}\n${migrated.stderr}`);

  const ports: Record<ServiceName, number> = { gateway: gatewayPort, 'chunk-worker': 0, notifier: notifierPort };
  const slots = new Map<ServiceName, ServiceSlot>(
    SERVICE_NAMES.map((name) => [
      name,
      { env: { ...env, PORT: String(ports[name]), ...(name === 'chunk-worker' ? { HTTP_PORT: String(workerHttpPort) } : {}), ...(options.services?.[name] ?? {}) }, child: null, exit: null, lastExit: null, signalledAt: null, lines: [] },
    ]),
  );
  const slot = (name: ServiceName): ServiceSlot => slots.get(name)!;
  const logs = (name: ServiceName) => (slots.get(name)?.lines ?? []).join('');
  const allLogs = () => SERVICE_NAMES.map((n) => `--- ${n}\n${logs(n)}`).join('\n');
  const running = (s: ServiceSlot): s is ServiceSlot & { child: ChildProcess } =>
    s.child !== null && s.child.exitCode === null && s.child.signalCode === null;

  const spawnService = (name: ServiceName): void => {
    const s = slot(name);
    if (running(s)) throw new Error(`${name} is already running (pid ${s.child.pid})`);
    const child = spawn(process.execPath, [join(ROOT, SERVICES[name])], { env: s.env, stdio: ['ignore', 'pipe', 'pipe'] });
    if (s.lines.length > 0) s.lines.push(`--- ${name} started again (pid ${child.pid})\n`);
    child.stdout!.on('data', (d: Buffer) => s.lines.push(d.toString()));
    child.stderr!.on('data', (d: Buffer) => s.lines.push(d.toString()));
    const startedAt = Date.now();
    s.child = child;
    s.signalledAt = null;
    s.exit = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        const exit = { code, signal, ms: Date.now() - (s.signalledAt ?? startedAt), forced: false };
        s.lastExit = exit;
        resolve(exit);
      });
    });
  };

  /** `from`: the first output line of the process to wait for (an earlier one said it too). */
  const waitReady = async (name: ServiceName, from: number, timeoutMs = 30_000): Promise<void> => {
    const s = slot(name);
    if (name === 'gateway') return waitFor(`http://127.0.0.1:${gatewayPort}/healthz`, timeoutMs, allLogs);
    if (name === 'notifier') return waitFor(`http://127.0.0.1:${notifierPort}/healthz`, timeoutMs, allLogs);
    if (QUIETER_THAN_INFO.has(String(s.env.LOG_LEVEL))) return;
    const deadline = Date.now() + timeoutMs;
    while (!s.lines.slice(from).some((l) => WORKER_READY.test(l))) {
      if (!running(s)) throw new Error(`chunk-worker exited while starting.\n${logs(name)}`);
      if (Date.now() > deadline) throw new Error(`chunk-worker did not start consuming within ${timeoutMs} ms.\n${logs(name)}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };

  const kill = async (name: ServiceName, signal: NodeJS.Signals = 'SIGKILL', timeoutMs = 15_000): Promise<ServiceExit> => {
    const s = slot(name);
    if (!running(s)) {
      if (s.exit) return s.exit;
      throw new Error(`${name} was never started`);
    }
    s.signalledAt = Date.now();
    s.child.kill(signal);
    let forced = false;
    const timer = setTimeout(() => {
      forced = true;
      s.child?.kill('SIGKILL');
    }, timeoutMs);
    const exit = await s.exit!;
    clearTimeout(timer);
    if (forced) s.lastExit = { ...exit, forced };
    return s.lastExit!;
  };

  const start = async (name: ServiceName, { waitReady: wait = true } = {}): Promise<void> => {
    const from = slot(name).lines.length;
    spawnService(name);
    if (wait) await waitReady(name, from);
  };

  const stop = async () => {
    await Promise.all(SERVICE_NAMES.map((name) => (running(slot(name)) ? kill(name, 'SIGTERM', 15_000) : undefined)));
    rmSync(blobDir, { recursive: true, force: true });
    await dropDatabase(databaseUrl);
    await deleteKeys(redisUrl, `${redisPrefix}:*`);
  };

  try {
    for (const name of SERVICE_NAMES) spawnService(name);
    await waitFor(`http://127.0.0.1:${gatewayPort}/readyz`, 30_000, allLogs);
    await waitFor(`http://127.0.0.1:${notifierPort}/healthz`, 30_000, allLogs);
    await waitReady('chunk-worker', 0);
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    gatewayUrl: `http://127.0.0.1:${gatewayPort}`,
    notifierUrl: `http://127.0.0.1:${notifierPort}`,
    workerUrl: `http://127.0.0.1:${workerHttpPort}`,
    databaseUrl,
    redisUrl,
    redisPrefix,
    blobDir,
    token: (owner) => signToken(secret, owner, { expiresIn: '1h' }),
    peakRss() {
      const result = {} as Record<ServiceName, number>;
      for (const name of SERVICE_NAMES) {
        const s = slot(name);
        let kib = 0;
        try {
          if (running(s)) kib = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${s.child.pid}/status`, 'utf8'))?.[1] ?? 0);
        } catch {
          // exited between the check and the read
        }
        result[name] = kib * 1024;
      }
      return result;
    },
    logs,
    pid: (name) => {
      const s = slot(name);
      return running(s) ? (s.child.pid ?? null) : null;
    },
    kill,
    signal(name, signal) {
      const s = slot(name);
      if (!running(s)) throw new Error(`${name} is not running`);
      s.child.kill(signal);
    },
    start,
    async restart(name, signal = 'SIGKILL') {
      const exit = await kill(name, signal);
      await start(name);
      return exit;
    },
    lastExit: (name) => slot(name).lastExit,
    stop,
  };
}
