// What the deployment files must agree with, read from the source where it can be: the
// environment variables each service's config schema reads, the scripts each process
// runs, the metric names the services export. Shared by deploy-files.test.ts (Dockerfile,
// docker-compose.yml, deploy/) and k8s.test.ts (k8s/).
//
// TESSERA_DEPLOY_ROOT points the checks at another checkout (used to prove they fail).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

export const root = path.resolve(process.env.TESSERA_DEPLOY_ROOT ?? path.join(__dirname, '..', '..', '..', '..'));

export function read(file: string): string {
  return readFileSync(path.join(root, file), 'utf8');
}

export const SERVICES = ['gateway', 'chunk-worker', 'notifier'] as const;
export type Service = (typeof SERVICES)[number];
/** The processes a deployment runs: the three services and the one-shot migrations. */
export type Process = Service | 'migrate';

/** The script each process runs (after `tsc -b`), relative to the repository root. */
export const SCRIPTS: Record<Process, string> = {
  migrate: 'libs/adapters/dist/postgres/migrate-cli.js',
  gateway: 'services/gateway/dist/main.js',
  'chunk-worker': 'services/chunk-worker/dist/main.js',
  notifier: 'services/notifier/dist/main.js',
};

/** Each service's HTTP port (/healthz, /readyz, /metrics) and the variable that sets it. */
export const HTTP_PORTS: Record<Service, { port: number; variable: string }> = {
  gateway: { port: 3000, variable: 'PORT' },
  notifier: { port: 3001, variable: 'PORT' },
  'chunk-worker': { port: 3002, variable: 'HTTP_PORT' },
};

/** The services that touch the blob store. */
export const BLOB_USERS: Service[] = ['gateway', 'chunk-worker'];

// ---------------------------------------------------------------------------
// Environment variables

/** Variables a deployment must give each process itself (a default in code is not trusted for these). */
export function neededEnv(process: Process, blobStore: string): string[] {
  const common = ['NODE_ENV', 'LOG_LEVEL', 'DATABASE_URL', 'REDIS_URL', 'REDIS_PREFIX', 'SHUTDOWN_TIMEOUT_MS'];
  const blob = blobStore === 's3' ? ['BLOB_STORE', 'S3_BUCKET', 'S3_REGION'] : ['BLOB_STORE', 'BLOB_DIR'];
  switch (process) {
    case 'migrate':
      return ['NODE_ENV', 'LOG_LEVEL', 'DATABASE_URL'];
    case 'gateway':
      return [...common, ...blob, 'PORT', 'AUTH_JWT_SECRET', 'MAX_UPLOAD_BYTES', 'DEFAULT_CHUNK_SIZE', 'UPLOAD_TTL_SECONDS', 'CHUNK_JOB_ATTEMPTS'];
    case 'chunk-worker':
      return [...common, ...blob, 'HTTP_PORT', 'WORKER_CONCURRENCY', 'FINALIZE_CONCURRENCY', 'CHUNK_JOB_ATTEMPTS'];
    case 'notifier':
      return [...common, 'PORT', 'AUTH_JWT_SECRET'];
  }
}

/** Variables a service reads that a deployment may leave to the code default. */
export const LEFT_TO_CODE_DEFAULT = new Set([
  'HOST', 'CHUNK_CLAIM_LEASE_MS', 'MAX_SUBSCRIPTIONS_PER_SOCKET', 'CHUNK_RETRY_BACKOFF_MS', 'SWEEP_INTERVAL_MS', 'SWEEP_BLOB_GRACE_MS',
  'MAX_UNFINISHED_UPLOADS_PER_OWNER', 'RATE_LIMIT_PER_SECOND', 'RATE_LIMIT_BURST', 'AUTH_JWT_ISSUER', 'AUTH_JWT_AUDIENCE',
  'AUTH_CLOCK_TOLERANCE_SECONDS', 'CORS_ORIGIN', 'BODY_IDLE_TIMEOUT_MS', 'MAX_SOCKETS', 'MAX_SOCKETS_PER_OWNER', 'TUS_LOCK_LEASE_MS',
  'PUBLIC_URL', 'NOTIFIER_PUBLIC_URL', 'DEV_TOKEN_SUBJECT',
  // S3: AWS S3 needs no endpoint; one bucket per deployment needs no prefix.
  'S3_ENDPOINT', 'S3_PREFIX',
  // Queue dashboard: the defaults (claim `roles`, role `admin`, read-only) are the documented ones.
  'ADMIN_CLAIM', 'ADMIN_ROLE', 'QUEUE_DASHBOARD_READ_ONLY',
  // Compose has no public Ingress: the gateway serves /metrics on its API port there.
  'METRICS_PORT',
]);

const isBlobVar = (name: string) => name === 'BLOB_STORE' || name === 'BLOB_DIR' || name.startsWith('S3_');

/**
 * Variables a deployment may leave out for `service`: those of the blob store it does not
 * use (BLOB_DIR with s3, S3_* with fs), and every blob store variable for a service that
 * never touches blobs (the notifier's schema inherits them from the common one).
 */
export function irrelevantFor(blobStore: string, service: Service): (name: string) => boolean {
  if (!BLOB_USERS.includes(service)) return isBlobVar;
  return blobStore === 's3' ? (name) => name === 'BLOB_DIR' : (name) => name.startsWith('S3_');
}

/** Never in a ConfigMap or a compose default (they carry credentials). */
export const SECRET_ENV = ['AUTH_JWT_SECRET', 'DATABASE_URL', 'REDIS_URL', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY'];

/** Read by node itself, not by a config schema. */
export const RUNTIME_ENV = new Set(['NODE_OPTIONS']);

/** `NAME: z…` / `NAME: someSchema…` keys of a zod object, in order. */
function keysIn(text: string): string[] {
  return [...text.matchAll(/^\s*([A-Z][A-Z0-9_]+):\s*(?:z\b|[a-z][\w.]*[.(])/gm)].map((m) => m[1]!);
}

/** `export const fooEnvSchema = …` → the variables it declares, for every shared schema in libs/domain/src/config. */
export function sharedSchemas(): Map<string, string[]> {
  const dir = 'libs/domain/src/config';
  const schemas = new Map<string, string[]>();
  for (const file of readdirSync(path.join(root, dir)).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))) {
    const text = read(`${dir}/${file}`);
    const starts = [...text.matchAll(/^export (?:const|function|type|interface|class) (\w+)/gm)];
    starts.forEach((m, i) => {
      if (!/^export const/.test(m[0])) return;
      const block = text.slice(m.index, starts[i + 1]?.index ?? text.length);
      const names = keysIn(block);
      if (names.length > 0) schemas.set(m[1]!, names);
    });
  }
  return schemas;
}

/** Every variable `service`'s config module reads: its own keys plus those of the shared schemas it extends. */
export function declaredEnv(service: Service): string[] {
  const text = read(`services/${service}/src/config.ts`);
  const shared = sharedSchemas();
  const names = new Set(keysIn(text));
  for (const [schema, vars] of shared) if (new RegExp(`\\b${schema}\\b`).test(text)) vars.forEach((v) => names.add(v));
  return [...names];
}

/** What each process reads (the migrations read DATABASE_URL only, straight from the environment). */
export function readsEnv(process: Process): Set<string> {
  if (process === 'migrate') return new Set(['DATABASE_URL']);
  return new Set(declaredEnv(process));
}

/** Every variable any Tessera process reads. */
export function anyProcessReads(): Set<string> {
  return new Set([...SERVICES.flatMap((s) => declaredEnv(s)), 'DATABASE_URL']);
}

// ---------------------------------------------------------------------------
// Scripts

/** `pkg/dist/a/b.js` → `pkg/src/a/b.ts`: the compiled script's source in the repository. */
export function sourceOf(script: string): string {
  const match = /^(.*)\/dist\/(.+)\.js$/.exec(script);
  if (!match) throw new Error(`${script} is not a <package>/dist/<file>.js path`);
  return `${match[1]}/src/${match[2]}.ts`;
}

/** The first `*.js` argument of a command (`node <script> ...`). */
export function scriptOf(command: unknown): string | undefined {
  const argv = Array.isArray(command) ? command.map(String) : typeof command === 'string' ? command.split(/\s+/) : [];
  return argv.find((arg) => arg.endsWith('.js'));
}

/** Problems with the scripts run by `owner → command` (wrong script, or no source for it); [] when fine. */
export function scriptProblems(commands: [owner: Process, command: unknown][]): string[] {
  return commands.flatMap(([owner, command]) => {
    const script = scriptOf(command);
    if (script === undefined || script !== SCRIPTS[owner]) return [`${owner} runs ${script ?? 'no .js script'}, expected ${SCRIPTS[owner]}`];
    const source = sourceOf(script);
    return existsSync(path.join(root, source)) ? [] : [`${owner} runs ${script}, but ${source} does not exist`];
  });
}

// ---------------------------------------------------------------------------
// Metrics

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const entry of readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const child = `${rel}/${entry.name}`;
      if (entry.isDirectory()) {
        if (!['node_modules', 'dist', 'web'].includes(entry.name)) walk(child);
      } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') && !entry.name.endsWith('.d.ts')) {
        out.push(child);
      }
    }
  };
  for (const top of readdirSync(path.join(root, dir), { withFileTypes: true })) {
    if (top.isDirectory() && existsSync(path.join(root, dir, top.name, 'src'))) walk(`${dir}/${top.name}/src`);
  }
  return out;
}

/**
 * `tessera_*` metric names in the services' and libraries' sources (tests excluded):
 * `registered` are those given as a metric's `name:` (or as the first argument of a call),
 * `mentioned` every such string literal.
 */
export function tesseraMetrics(): { registered: Set<string>; mentioned: Set<string> } {
  const registered = new Set<string>();
  const mentioned = new Set<string>();
  for (const file of [...sourceFiles('libs'), ...sourceFiles('services')]) {
    const text = read(file);
    for (const m of text.matchAll(/(?:\bname:\s*|\(\s*)['"`](tessera_[a-z0-9_]+)['"`]/g)) registered.add(m[1]!);
    for (const m of text.matchAll(/['"`](tessera_[a-z0-9_]+)['"`]/g)) mentioned.add(m[1]!);
  }
  return { registered, mentioned };
}

/** prom-client's default metrics (`process_*`, `nodejs_*`), from the prom-client the services use. */
export function defaultMetrics(): Set<string> {
  const requireFromGateway = createRequire(path.join(root, 'services/gateway/package.json'));
  const dir = path.join(path.dirname(requireFromGateway.resolve('prom-client/package.json')), 'lib', 'metrics');
  const names = new Set<string>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.js'))) {
    for (const m of readFileSync(path.join(dir, file), 'utf8').matchAll(/['"]((?:process|nodejs)_[a-z0-9_]+)['"]/g)) names.add(m[1]!);
  }
  return names;
}
