import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { dropDatabase, signToken } from '@tessera/adapters';
import { deleteKeys, freePort, withDatabase } from './stack';

const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..', '..', '..');
const SCRIPTS = {
  gateway: 'services/gateway/dist/main.js',
  'chunk-worker': 'services/chunk-worker/dist/main.js',
  notifier: 'services/notifier/dist/main.js',
} as const;
export type Role = keyof typeof SCRIPTS;

/** One service process of a cluster. */
export interface ClusterNode {
  readonly role: Role;
  /** `gateway-1`, `chunk-worker-3`, … */
  readonly name: string;
  /** Its HTTP port: PORT of a gateway or notifier, HTTP_PORT of a chunk-worker. */
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly pid: number;
  alive(): boolean;
  /** Everything it printed so far. */
  logs(): string;
  /** Sends `signal` (default SIGKILL) and resolves once the process has exited. */
  kill(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface ClusterOptions {
  gateways?: number;
  workers?: number;
  notifiers?: number;
  /** Environment of every process, over the defaults (LOG_LEVEL, limits, …). */
  env?: Record<string, string>;
  /** Environment of one role only, over `env`. */
  roleEnv?: Partial<Record<Role, Record<string, string>>>;
  /** PostgreSQL server the cluster creates its fresh database on (the URL's database name is replaced). */
  databaseUrl?: string;
  /** Redis server of the cluster (its keys get a private prefix). */
  redisUrl?: string;
}

export interface Cluster {
  readonly gateways: ClusterNode[];
  readonly workers: ClusterNode[];
  readonly notifiers: ClusterNode[];
  readonly databaseUrl: string;
  readonly redisUrl: string;
  readonly redisPrefix: string;
  readonly blobDir: string;
  token(owner: string): Promise<string>;
  /** Rows of one SQL statement on the cluster's database, through psql: each row's columns as text. */
  query(sql: string): Promise<string[][]>;
  /** Processes that ended without being killed through `ClusterNode.kill` or `stop`, with their last output. */
  unexpectedExits(): string[];
  /** Everything every process printed, for a failure message. */
  logs(): string;
  /** SIGTERM to every process still running, then removes the database, the Redis keys and the blob folder. */
  stop(): Promise<void>;
}

/** Environment every process of one Tessera deployment shares: one database, one Redis prefix, one blob folder. */
export interface SharedEnv {
  databaseUrl: string;
  redisUrl: string;
  redisPrefix: string;
  blobDir: string;
  /** Anything else, applied last. */
  env?: Record<string, string>;
}

/** Distinct free ports: `freePort` twice in a row may name the same one. */
async function freePorts(count: number, taken = new Set<number>()): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < count) {
    const port = await freePort();
    if (taken.has(port)) continue;
    taken.add(port);
    ports.push(port);
  }
  return ports;
}

async function answers(url: string): Promise<boolean> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(2000) })).ok;
  } catch {
    return false;
  }
}

const WORKER_READY = /consuming queues/;
const QUIETER_THAN_INFO = new Set(['warn', 'error', 'fatal', 'silent']);

/**
 * Starts one service process from its build and resolves once it serves: a gateway when
 * `/readyz` answers, a notifier when `/healthz` does, a chunk-worker when it logs that it
 * consumes its queues (its HTTP server answers before that), or, when its LOG_LEVEL hides
 * that line, when `/readyz` on its HTTP_PORT answers. Each process gets its own port (PORT,
 * or HTTP_PORT for a worker).
 */
export async function startNode(role: Role, name: string, shared: SharedEnv, port?: number, timeoutMs = 60_000): Promise<ClusterNode> {
  const [own] = port === undefined ? await freePorts(1) : [port];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    DATABASE_URL: shared.databaseUrl,
    REDIS_URL: shared.redisUrl,
    REDIS_PREFIX: shared.redisPrefix,
    BLOB_DIR: shared.blobDir,
    HOST: '127.0.0.1',
    ...shared.env,
    ...(role === 'chunk-worker' ? { HTTP_PORT: String(own) } : { PORT: String(own) }),
  };
  const child: ChildProcess = spawn(process.execPath, [join(ROOT, SCRIPTS[role])], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  child.stdout!.on('data', (d: Buffer) => lines.push(d.toString()));
  child.stderr!.on('data', (d: Buffer) => lines.push(d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const alive = () => child.exitCode === null && child.signalCode === null;
  const url = `http://127.0.0.1:${own}`;
  const node: ClusterNode = {
    role,
    name,
    port: own!,
    url,
    pid: child.pid!,
    alive,
    logs: () => lines.join(''),
    async kill(signal = 'SIGKILL') {
      if (alive()) child.kill(signal);
      return exited;
    },
  };

  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!alive()) throw new Error(`${name} exited while starting.\n${node.logs()}`);
    if (role === 'gateway' && (await answers(`${url}/readyz`))) break;
    if (role === 'notifier' && (await answers(`${url}/healthz`))) break;
    if (role === 'chunk-worker') {
      if (QUIETER_THAN_INFO.has(String(env.LOG_LEVEL)) ? await answers(`${url}/readyz`) : lines.some((l) => WORKER_READY.test(l))) break;
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${name} did not get ready within ${timeoutMs} ms.\n${node.logs()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return node;
}

/**
 * Several replicas of each service as separate processes on this machine, against a fresh
 * database, a private Redis key prefix and one temporary blob folder, as replicas behind a
 * load balancer share them. There is no load balancer: the test client picks the process.
 */
export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const { gateways = 2, workers = 3, notifiers = 2 } = options;
  const baseUrl = options.databaseUrl ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const redisUrl = options.redisUrl ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const runId = `${process.pid}_${randomBytes(3).toString('hex')}`;
  const databaseUrl = withDatabase(baseUrl, `tessera_cluster_${runId}`);
  const redisPrefix = `tessera-cluster-${runId}`;
  const blobDir = mkdtempSync(join(tmpdir(), 'tessera-cluster-'));
  const secret = randomBytes(32).toString('base64url');
  const env = { AUTH_JWT_SECRET: secret, ...options.env };
  const shared = { databaseUrl, redisUrl, redisPrefix, blobDir };

  const nodes: ClusterNode[] = [];
  let stopping = false;
  const logs = () => nodes.map((n) => `--- ${n.name} (pid ${n.pid}${n.alive() ? '' : ', exited'})\n${n.logs()}`).join('\n');

  const stop = async () => {
    stopping = true;
    await Promise.all(
      nodes.map(async (node) => {
        if (!node.alive()) return;
        const timer = setTimeout(() => void node.kill('SIGKILL'), 15_000);
        await node.kill('SIGTERM');
        clearTimeout(timer);
      }),
    );
    rmSync(blobDir, { recursive: true, force: true });
    await dropDatabase(databaseUrl);
    await deleteKeys(redisUrl, `${redisPrefix}:*`);
  };

  try {
    const migrated = spawnSync(process.execPath, [join(ROOT, 'libs/adapters/dist/postgres/migrate-cli.js')], {
      env: { ...process.env, DATABASE_URL: databaseUrl },
      encoding: 'utf8',
    });
    if (migrated.status !== 0) throw new Error(`migrations failed:\n${migrated.stdout}\n${migrated.stderr}`);

    const plan: [Role, number][] = [
      ['gateway', gateways],
      ['chunk-worker', workers],
      ['notifier', notifiers],
    ];
    const ports = await freePorts(gateways + workers + notifiers);
    // All at once: start-up costs the slowest process, not the sum of all.
    const started = await Promise.allSettled(
      plan.flatMap(([role, count]) =>
        Array.from({ length: count }, (_, i) =>
          startNode(role, `${role}-${i + 1}`, { ...shared, env: { ...env, ...options.roleEnv?.[role] } }, ports.pop()).then((node) => {
            nodes.push(node);
            return node;
          }),
        ),
      ),
    );
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
  } catch (error) {
    await stop();
    throw error;
  }

  // The test's own kills are not crashes: remember them.
  const killed = new Set<string>();
  const handles = nodes.map((node): ClusterNode => ({
    ...node,
    kill: (signal) => {
      killed.add(node.name);
      return node.kill(signal);
    },
  }));
  const byRole = (role: Role) => handles.filter((n) => n.role === role).sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));

  return {
    gateways: byRole('gateway'),
    workers: byRole('chunk-worker'),
    notifiers: byRole('notifier'),
    databaseUrl,
    redisUrl,
    redisPrefix,
    blobDir,
    token: (owner) => signToken(secret, owner, { expiresIn: '1h' }),
    async query(sql) {
      const { stdout } = await run('psql', ['-X', '-q', '-A', '-t', '-F', '|', '-v', 'ON_ERROR_STOP=1', '-d', databaseUrl, '-c', sql], { maxBuffer: 64 * 1024 * 1024 });
      return stdout
        .split('\n')
        .filter((line) => line.length > 0)
        .map((line) => line.split('|'));
    },
    unexpectedExits: () =>
      stopping ? [] : nodes.filter((n) => !n.alive() && !killed.has(n.name)).map((n) => `${n.name} exited on its own:\n${n.logs().slice(-4000)}`),
    logs,
    stop,
  };
}
