// Checks the deployment files (Dockerfile, .dockerignore, docker-compose.yml, k8s/*.yaml)
// without Docker or a cluster: parses them and asserts the facts the services rely on.
//
//   npx jest -c tests/e2e/jest.config.js src/deploy-files.test.ts
//
// TESSERA_DEPLOY_ROOT points the checks at another checkout (used to prove they fail).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse, parseAllDocuments } from 'yaml';

const root = path.resolve(process.env.TESSERA_DEPLOY_ROOT ?? path.join(__dirname, '..', '..', '..'));

// ---------------------------------------------------------------------------
// What the services need (the brief / design.md "Running"), in one place.

const COMMON_ENV = ['NODE_ENV', 'LOG_LEVEL', 'DATABASE_URL', 'REDIS_URL', 'REDIS_PREFIX', 'SHUTDOWN_TIMEOUT_MS'];
const BLOB_ENV = ['BLOB_STORE', 'BLOB_DIR'];
/** Retry policy of queued jobs, read by every producer of jobs (jobEnvSchema). */
const JOB_ENV = ['CHUNK_JOB_ATTEMPTS', 'CHUNK_RETRY_BACKOFF_MS'];
/** Bearer-token settings (authEnvSchema); only the secret has no default. */
const AUTH_ENV = ['AUTH_JWT_SECRET', 'AUTH_JWT_ISSUER', 'AUTH_JWT_AUDIENCE', 'AUTH_CLOCK_TOLERANCE_SECONDS'];

/** Variables each process must be given by the deployment (defaults in code are not trusted for these). */
const NEEDED_ENV: Record<string, string[]> = {
  migrate: ['NODE_ENV', 'LOG_LEVEL', 'DATABASE_URL'],
  gateway: [...COMMON_ENV, ...BLOB_ENV, 'PORT', 'AUTH_JWT_SECRET', 'MAX_UPLOAD_BYTES', 'DEFAULT_CHUNK_SIZE', 'UPLOAD_TTL_SECONDS', 'CHUNK_JOB_ATTEMPTS'],
  'chunk-worker': [...COMMON_ENV, ...BLOB_ENV, 'WORKER_CONCURRENCY', 'FINALIZE_CONCURRENCY', 'CHUNK_JOB_ATTEMPTS'],
  notifier: [...COMMON_ENV, 'PORT', 'AUTH_JWT_SECRET', 'CORS_ORIGIN'],
};

/** Variables a service's config schema reads that the deployment deliberately leaves to the code default. */
const LEFT_TO_CODE_DEFAULT = new Set(['HOST', 'CHUNK_CLAIM_LEASE_MS', 'MAX_SUBSCRIPTIONS_PER_SOCKET', 'CHUNK_RETRY_BACKOFF_MS', 'SWEEP_INTERVAL_MS', 'SWEEP_BLOB_GRACE_MS', 'MAX_UNFINISHED_UPLOADS_PER_OWNER', 'RATE_LIMIT_PER_SECOND', 'RATE_LIMIT_BURST', 'AUTH_JWT_ISSUER', 'AUTH_JWT_AUDIENCE', 'AUTH_CLOCK_TOLERANCE_SECONDS', 'CORS_ORIGIN', 'BODY_IDLE_TIMEOUT_MS', 'MAX_SOCKETS', 'MAX_SOCKETS_PER_OWNER', 'TUS_LOCK_LEASE_MS', 'PUBLIC_URL', 'NOTIFIER_PUBLIC_URL', 'DEV_TOKEN_SUBJECT']);

/** Every name a deployment file may set; anything else is a typo the schema would silently ignore. */
const KNOWN_ENV = new Set([...Object.values(NEEDED_ENV).flat(), ...LEFT_TO_CODE_DEFAULT, 'NODE_OPTIONS']);

/** Never in a ConfigMap (they carry credentials). */
const SECRET_ENV = ['AUTH_JWT_SECRET', 'DATABASE_URL', 'REDIS_URL'];

/** The script each process runs (after `tsc -b`), relative to the repository root. */
const SCRIPTS: Record<string, string> = {
  migrate: 'libs/adapters/dist/postgres/migrate-cli.js',
  gateway: 'services/gateway/dist/main.js',
  'chunk-worker': 'services/chunk-worker/dist/main.js',
  notifier: 'services/notifier/dist/main.js',
};
const HTTP_PORTS: Record<string, number> = { gateway: 3000, notifier: 3001 };
const BLOB_USERS = ['gateway', 'chunk-worker'];
const SHIPPED_PACKAGES = ['libs/domain', 'libs/adapters', 'services/gateway', 'services/chunk-worker', 'services/notifier'];

// ---------------------------------------------------------------------------
// Helpers

function read(file: string): string {
  return readFileSync(path.join(root, file), 'utf8');
}

/** `pkg/dist/a/b.js` → `pkg/src/a/b.ts`: the compiled script's source in the repository. */
function sourceOf(script: string): string {
  const match = /^(.*)\/dist\/(.+)\.js$/.exec(script);
  if (!match) throw new Error(`${script} is not a <package>/dist/<file>.js path`);
  return `${match[1]}/src/${match[2]}.ts`;
}

/** The first `*.js` argument of a command (`node <script> ...`). */
function scriptOf(command: unknown): string | undefined {
  const argv = Array.isArray(command) ? command.map(String) : typeof command === 'string' ? command.split(/\s+/) : [];
  return argv.find((arg) => arg.endsWith('.js'));
}

/** Problems with the scripts run by `owner → command` (wrong script, or no source for it); [] when fine. */
function scriptProblems(commands: [owner: string, command: unknown][]): string[] {
  return commands.flatMap(([owner, command]) => {
    const script = scriptOf(command);
    if (script === undefined || script !== SCRIPTS[owner]) return [`${owner} runs ${script ?? 'no .js script'}, expected ${SCRIPTS[owner]}`];
    const source = sourceOf(script);
    return existsSync(path.join(root, source)) ? [] : [`${owner} runs ${script}, but ${source} does not exist`];
  });
}

/** `${NAME:-default}` → default; a plain value as is; `${NAME}` / `${NAME:?..}` → undefined. */
function composeDefault(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  const text = String(value);
  const match = /^\$\{[A-Z0-9_]+:?-(.*)\}$/.exec(text);
  if (match) return match[1];
  return text.includes('${') ? undefined : text;
}

function durationMs(value: unknown): number {
  const text = String(value);
  let total = 0;
  let matched = '';
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s|us)/g)) {
    const n = Number(m[1]);
    total += n * { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001 }[m[2] as 'h' | 'm' | 's' | 'ms' | 'us'];
    matched += m[0];
  }
  if (!matched || matched !== text) throw new Error(`not a compose duration: ${text}`);
  return total;
}

/** Directories the root package.json's workspace globs (`dir/*` or `dir/name`) name. */
function workspaceDirs(): string[] {
  const pkg = JSON.parse(read('package.json')) as { workspaces: string[] };
  return pkg.workspaces.flatMap((glob) => {
    if (!glob.endsWith('/*')) return [glob];
    const parent = glob.slice(0, -2);
    return readdirSync(path.join(root, parent), { withFileTypes: true })
      .filter((d) => d.isDirectory() && existsSync(path.join(root, parent, d.name, 'package.json')))
      .map((d) => `${parent}/${d.name}`);
  });
}

// ---------------------------------------------------------------------------
// Dockerfile

interface Stage {
  name: string;
  from: string;
  instructions: { op: string; args: string }[];
}

function parseDockerfile(text: string): { args: Record<string, string>; stages: Stage[] } {
  const lines = text.replace(/\\\r?\n/g, ' ').split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const line of lines) {
    const [, op = '', rest = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const upper = op.toUpperCase();
    if (upper === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest);
      if (!m) throw new Error(`cannot read: ${line}`);
      stages.push({ name: m[2] ?? String(stages.length), from: m[1]!, instructions: [] });
    } else if (stages.length === 0) {
      if (upper === 'ARG') {
        const [name, value = ''] = rest.split('=');
        args[name!.trim()] = value.trim().replace(/^"|"$/g, '');
      }
    } else {
      stages[stages.length - 1]!.instructions.push({ op: upper, args: rest });
    }
  }
  return { args, stages };
}

describe('Dockerfile', () => {
  const { args, stages } = parseDockerfile(read('Dockerfile'));
  const byName = new Map(stages.map((s) => [s.name, s]));
  const expand = (ref: string) => ref.replace(/\$\{?(\w+)\}?/g, (_, name: string) => args[name] ?? `$${name}`);
  /** The stage followed by the stages it is built FROM, nearest first. */
  const chain = (stage: Stage): Stage[] => {
    const parent = byName.get(stage.from);
    return parent ? [stage, ...chain(parent)] : [stage];
  };
  const baseImage = (stage: Stage) => expand(chain(stage).at(-1)!.from);
  const runs = (stage: Stage) => chain(stage).flatMap((s) => s.instructions.filter((i) => i.op === 'RUN').map((i) => i.args));
  const runtime = stages.at(-1)!;
  const build = stages.find((s) => runs(s).some((r) => /\bnpm run build\b/.test(r)));

  it('has a build stage on node:20-bookworm-slim that installs everything and builds', () => {
    expect(build).toBeDefined();
    expect(baseImage(build!)).toBe('node:20-bookworm-slim');
    const install = runs(build!).find((r) => /\bnpm ci\b/.test(r));
    expect(install).toBeDefined();
    // turbo's binary is an optional dependency: the build stage must keep optional and dev deps.
    expect(install).not.toMatch(/--omit|--production|--only/);
  });

  it('ends with a separate runtime stage on the same base with production dependencies only', () => {
    expect(runtime).not.toBe(build);
    expect(baseImage(runtime)).toBe('node:20-bookworm-slim');
    const install = runs(runtime).find((r) => /\bnpm ci\b/.test(r));
    expect(install).toMatch(/--omit=dev\b/);
    expect(install).not.toMatch(/--omit=optional/);
    expect(runs(runtime).some((r) => /\bnpm run build\b|\btsc\b/.test(r))).toBe(false);
  });

  it('copies every workspace manifest before each `npm ci` (a missing one silently drops its dependencies)', () => {
    const needed = [...workspaceDirs().map((d) => `${d}/package.json`), 'package.json', 'package-lock.json'];
    for (const stage of [build!, runtime]) {
      const steps = chain(stage).reverse().flatMap((s) => s.instructions);
      const ci = steps.findIndex((i) => i.op === 'RUN' && /\bnpm ci\b/.test(i.args));
      const copied = steps
        .slice(0, ci)
        .filter((i) => i.op === 'COPY' && !i.args.includes('--from'))
        .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
      for (const file of needed) {
        const present = copied.some((src) => src === file || src === '.');
        expect({ stage: stage.name, file, present }).toEqual({ stage: stage.name, file, present: true });
      }
    }
  });

  it('copies only dist folders from the build stage, one for every shipped package', () => {
    const fromBuild = runtime.instructions
      .filter((i) => i.op === 'COPY' && /--from=/.test(i.args))
      .map((i) => {
        const parts = i.args.split(/\s+/).filter((p) => !p.startsWith('--'));
        const from = /--from=(\S+)/.exec(i.args)![1];
        return { from, sources: parts.slice(0, -1) };
      });
    expect(fromBuild.length).toBeGreaterThan(0);
    for (const { from, sources } of fromBuild) {
      expect(from).toBe(build!.name);
      for (const src of sources) expect(src).toMatch(/\/dist\/?$/);
    }
    const copied = fromBuild.flatMap((c) => c.sources).map((s) => s.replace(/^\/app\//, '').replace(/\/$/, ''));
    for (const pkg of SHIPPED_PACKAGES) expect(copied).toContain(`${pkg}/dist`);
  });

  it('runs as a numeric non-root user with NODE_ENV=production and the gateway by default', () => {
    const steps = chain(runtime).reverse().flatMap((s) => s.instructions);
    const user = steps.filter((i) => i.op === 'USER').at(-1)?.args;
    expect(user).toBeDefined();
    const uid = user!.split(':')[0]!;
    expect(uid).toMatch(/^\d+$/); // Kubernetes' runAsNonRoot can only verify a numeric user
    expect(uid).not.toBe('0');
    const env = steps.filter((i) => i.op === 'ENV').map((i) => i.args).join(' ');
    expect(env).toMatch(/\bNODE_ENV[= ]production\b/);
    const cmd = runtime.instructions.filter((i) => i.op === 'CMD').at(-1)?.args;
    expect(cmd).toBeDefined();
    const argv = JSON.parse(cmd!) as string[]; // exec form, so node is PID 1 and gets SIGTERM
    expect(argv[0]).toBe('node');
    expect(scriptProblems([['gateway', argv]])).toEqual([]);
  });
});

describe('.dockerignore', () => {
  const entries = read('.dockerignore').split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const ignored = (name: string) => entries.some((e) => e.replace(/^\*\*\//, '').replace(/\/$/, '') === name);

  it.each(['node_modules', 'dist', '.git', 'data', '.turbo', '.jest-cache'])('excludes %s', (name) => {
    expect(ignored(name)).toBe(true);
  });

  it('keeps what the build needs', () => {
    for (const name of ['package.json', 'package-lock.json', '.npmrc', 'libs', 'services', 'tests', 'turbo.json', 'tsconfig.base.json']) {
      expect({ name, ignored: ignored(name) }).toEqual({ name, ignored: false });
    }
  });
});

// ---------------------------------------------------------------------------
// docker-compose.yml

interface ComposeService {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  command?: string | string[];
  environment?: Record<string, unknown> | string[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: string | string[] };
  ports?: (string | { target?: number; published?: number | string })[];
  volumes?: (string | { type?: string; source?: string; target?: string })[];
  stop_grace_period?: string;
}

describe('docker-compose.yml', () => {
  const compose = parse(read('docker-compose.yml'), { merge: true }) as {
    services: Record<string, ComposeService>;
    volumes?: Record<string, unknown>;
  };
  const services = compose.services;
  const env = (name: string): Record<string, string | undefined> => {
    const raw = services[name]?.environment ?? {};
    if (Array.isArray(raw)) {
      return Object.fromEntries(raw.map((line) => [line.split('=')[0]!, line.includes('=') ? line.slice(line.indexOf('=') + 1) : undefined]));
    }
    return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, v === null || v === undefined ? undefined : String(v)]));
  };
  const builtHere = Object.entries(services)
    .filter(([, s]) => {
      if (!s.build) return false;
      const b = typeof s.build === 'string' ? { context: s.build } : s.build;
      return path.resolve(root, b.context ?? '.', b.dockerfile ?? 'Dockerfile') === path.join(root, 'Dockerfile');
    })
    .map(([name]) => name);
  const conditionsOf = (name: string): Record<string, string | undefined> => {
    const deps = services[name]?.depends_on ?? {};
    if (Array.isArray(deps)) return Object.fromEntries(deps.map((d) => [d, undefined]));
    return Object.fromEntries(Object.entries(deps).map(([d, v]) => [d, v?.condition]));
  };
  const mounts = (name: string) =>
    (services[name]?.volumes ?? []).map((v) => {
      if (typeof v !== 'string') return { source: v.source, target: v.target };
      const [source, target] = v.split(':');
      return { source, target };
    });

  it('builds migrate, gateway, chunk-worker and notifier from the root Dockerfile', () => {
    expect([...builtHere].sort()).toEqual(['chunk-worker', 'gateway', 'migrate', 'notifier']);
  });

  it('gives every service built here a command whose script exists in the source layout', () => {
    expect(scriptProblems(builtHere.map((name) => [name, services[name]!.command]))).toEqual([]);
  });

  it('runs postgres:15 and redis:7 with health checks', () => {
    expect(services.postgres?.image).toMatch(/^postgres:15\b/);
    expect(services.redis?.image).toMatch(/^redis:7\b/);
    expect(services.postgres?.healthcheck?.test).toBeDefined();
    expect(services.redis?.healthcheck?.test).toBeDefined();
  });

  it('orders start-up with depends_on conditions', () => {
    expect(conditionsOf('migrate')).toMatchObject({ postgres: 'service_healthy' });
    for (const name of ['gateway', 'chunk-worker', 'notifier']) {
      expect({ name, deps: conditionsOf(name) }).toMatchObject({
        name,
        deps: { postgres: 'service_healthy', redis: 'service_healthy', migrate: 'service_completed_successfully' },
      });
    }
    // A service_healthy condition on a service without a health check never becomes true.
    for (const name of Object.keys(services)) {
      for (const [dep, condition] of Object.entries(conditionsOf(name))) {
        expect(services[dep]).toBeDefined();
        expect(['service_started', 'service_healthy', 'service_completed_successfully']).toContain(condition);
        if (condition === 'service_healthy') expect({ dep, healthcheck: Boolean(services[dep]!.healthcheck?.test) }).toEqual({ dep, healthcheck: true });
      }
    }
  });

  it('passes every variable each service needs, and no unknown one', () => {
    for (const name of builtHere) {
      const names = Object.keys(env(name));
      for (const needed of NEEDED_ENV[name]!) expect({ service: name, has: needed, present: names.includes(needed) }).toEqual({ service: name, has: needed, present: true });
      for (const given of names) expect({ service: name, given, known: KNOWN_ENV.has(given) }).toEqual({ service: name, given, known: true });
    }
    expect(env('gateway').PORT).toBe(String(HTTP_PORTS.gateway));
    expect(env('notifier').PORT).toBe(String(HTTP_PORTS.notifier));
  });

  it('requires AUTH_JWT_SECRET from the environment, with a clear message', () => {
    for (const name of ['gateway', 'notifier']) {
      expect(env(name).AUTH_JWT_SECRET).toMatch(/^\$\{AUTH_JWT_SECRET:\?[^}]*32[^}]*\}$/);
    }
  });

  it('health-checks gateway and notifier with node fetch on their own port', () => {
    for (const [name, port] of Object.entries(HTTP_PORTS)) {
      const test = services[name]!.healthcheck?.test;
      expect(Array.isArray(test)).toBe(true);
      const argv = test as string[];
      expect(argv.slice(0, 2)).toEqual(['CMD', 'node']);
      const script = argv.join(' ');
      expect(script).toContain('fetch(');
      expect(script).toMatch(new RegExp(`://(127\\.0\\.0\\.1|localhost):${port}/(readyz|healthz)\\b`));
      expect(script).not.toMatch(/\bcurl\b|\bwget\b/);
    }
  });

  it('publishes 3000 and 3001', () => {
    for (const [name, port] of Object.entries(HTTP_PORTS)) {
      const published = (services[name]!.ports ?? []).map((p) =>
        typeof p === 'string' ? p.split(':').slice(-2).join(':') : `${p.published}:${p.target}`,
      );
      expect(published).toContain(`${port}:${port}`);
    }
  });

  it('shares one named volume at BLOB_DIR between gateway and chunk-worker', () => {
    const sources = BLOB_USERS.map((name) => {
      const dir = composeDefault(env(name).BLOB_DIR);
      expect(dir).toMatch(/^\//);
      const mount = mounts(name).find((m) => m.target === dir);
      expect({ service: name, mounted: Boolean(mount) }).toEqual({ service: name, mounted: true });
      return mount!.source;
    });
    expect(new Set(sources).size).toBe(1);
    expect(Object.keys(compose.volumes ?? {})).toContain(sources[0]);
  });

  it('waits longer than SHUTDOWN_TIMEOUT_MS before killing a service', () => {
    for (const name of ['gateway', 'chunk-worker', 'notifier']) {
      const shutdown = Number(composeDefault(env(name).SHUTDOWN_TIMEOUT_MS) ?? 10_000);
      const grace = durationMs(services[name]!.stop_grace_period ?? '10s');
      expect({ service: name, graceExceedsShutdown: grace > shutdown }).toEqual({ service: name, graceExceedsShutdown: true });
    }
  });
});

// ---------------------------------------------------------------------------
// k8s/

interface Container {
  name: string;
  command?: string[];
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: {
    name: string;
    value?: string;
    valueFrom?: { configMapKeyRef?: { name: string; key: string }; secretKeyRef?: { name: string; key: string } };
  }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: {
    runAsNonRoot?: boolean;
    runAsUser?: number;
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    capabilities?: { drop?: string[] };
  };
  volumeMounts?: { name: string; mountPath: string }[];
  lifecycle?: { preStop?: { exec?: { command?: string[] }; sleep?: { seconds?: number } } };
}
interface Probe {
  httpGet?: { path?: string; port?: number | string };
}
interface PodSpec {
  containers: Container[];
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
  terminationGracePeriodSeconds?: number;
  restartPolicy?: string;
  volumes?: { name: string; emptyDir?: object; persistentVolumeClaim?: { claimName: string } }[];
}
interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  spec?: {
    selector?: { matchLabels?: Record<string, string> } & Record<string, unknown>;
    accessModes?: string[];
    ports?: { name?: string; port: number; targetPort?: number | string }[];
    template?: { metadata?: { labels?: Record<string, string> }; spec: PodSpec };
  };
}

describe('k8s/', () => {
  const dir = path.join(root, 'k8s');
  const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort();
  const objects: (K8sObject & { file: string })[] = files.flatMap((file) =>
    parseAllDocuments(readFileSync(path.join(dir, file), 'utf8')).map((doc) => {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
      return { ...(doc.toJS() as K8sObject), file };
    }).filter((o) => o.kind),
  );
  const ofKind = (kind: string) => objects.filter((o) => o.kind === kind);
  const find = (kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name);
  const deployments = ofKind('Deployment');
  const workloads = [...deployments, ...ofKind('Job')];
  const configMaps = ofKind('ConfigMap');
  const secrets = ofKind('Secret');
  const keysOf = (o: K8sObject | undefined) => Object.keys({ ...(o?.data ?? {}), ...(o?.stringData ?? {}) });
  const config = configMaps[0];
  const ownerOf = (w: K8sObject) => (w.kind === 'Job' ? 'migrate' : w.metadata.name);
  const containersOf = (w: K8sObject) => w.spec!.template!.spec.containers;

  /** Every variable a container gets, with the ConfigMap/Secret reference it resolves through. */
  const envOf = (c: Container): string[] => {
    const names: string[] = [];
    for (const from of c.envFrom ?? []) {
      if (from.configMapRef) {
        const cm = find('ConfigMap', from.configMapRef.name);
        expect({ container: c.name, configMap: from.configMapRef.name, exists: Boolean(cm) }).toEqual({ container: c.name, configMap: from.configMapRef.name, exists: true });
        names.push(...keysOf(cm));
      }
      if (from.secretRef) {
        const s = find('Secret', from.secretRef.name);
        expect({ container: c.name, secret: from.secretRef.name, exists: Boolean(s) }).toEqual({ container: c.name, secret: from.secretRef.name, exists: true });
        names.push(...keysOf(s));
      }
    }
    for (const e of c.env ?? []) {
      const ref = e.valueFrom?.configMapKeyRef ?? e.valueFrom?.secretKeyRef;
      if (ref) {
        const kind = e.valueFrom?.configMapKeyRef ? 'ConfigMap' : 'Secret';
        const present = keysOf(find(kind, ref.name)).includes(ref.key);
        expect({ container: c.name, env: e.name, ref: `${kind}/${ref.name}#${ref.key}`, present }).toEqual({ container: c.name, env: e.name, ref: `${kind}/${ref.name}#${ref.key}`, present: true });
      }
      names.push(e.name);
    }
    return names;
  };

  it('lists every manifest in kustomization.yaml, except the example secret', () => {
    const kustomization = parse(readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
    const expected = files.filter((f) => f !== 'kustomization.yaml' && f !== 'secret.example.yaml');
    expect([...kustomization.resources].sort()).toEqual(expected);
  });

  it('has the namespace, one ConfigMap, the example Secret, a ReadWriteMany claim and the migrate Job', () => {
    expect(ofKind('Namespace')).toHaveLength(1);
    expect(configMaps).toHaveLength(1);
    expect(secrets.map((s) => s.file)).toEqual(['secret.example.yaml']);
    const pvcs = ofKind('PersistentVolumeClaim');
    expect(pvcs).toHaveLength(1);
    expect(pvcs[0]!.spec?.accessModes).toEqual(['ReadWriteMany']);
    expect(ofKind('Job')).toHaveLength(1);
  });

  it('has a Deployment for each service and a Service for each HTTP one', () => {
    expect(deployments.map((d) => d.metadata.name).sort()).toEqual(['chunk-worker', 'gateway', 'notifier']);
    expect(ofKind('Service').map((s) => s.metadata.name).sort()).toEqual(Object.keys(HTTP_PORTS).sort());
  });

  it('keeps credentials out of the ConfigMap and documents every secret key', () => {
    for (const key of SECRET_ENV) {
      expect({ key, inConfigMap: keysOf(config).includes(key) }).toEqual({ key, inConfigMap: false });
      expect({ key, inSecret: keysOf(secrets[0]).includes(key) }).toEqual({ key, inSecret: true });
    }
    // The placeholder must be unusable: the services reject a secret shorter than 32 characters.
    expect(String(secrets[0]?.stringData?.AUTH_JWT_SECRET ?? secrets[0]?.data?.AUTH_JWT_SECRET).length).toBeLessThan(32);
  });

  it('runs the right script, existing in the source layout, in every workload', () => {
    const commands = workloads.map((w): [string, unknown] => {
      const [c] = containersOf(w);
      return [ownerOf(w), [...(c!.command ?? []), ...(c!.args ?? [])]];
    });
    expect(scriptProblems(commands)).toEqual([]);
  });

  it('gives every container the variables its service needs, and no unknown one', () => {
    for (const w of workloads) {
      for (const c of containersOf(w)) {
        const names = envOf(c);
        for (const needed of NEEDED_ENV[ownerOf(w)]!) expect({ workload: w.metadata.name, needs: needed, present: names.includes(needed) }).toEqual({ workload: w.metadata.name, needs: needed, present: true });
        for (const given of names) expect({ workload: w.metadata.name, given, known: KNOWN_ENV.has(given) }).toEqual({ workload: w.metadata.name, given, known: true });
        const port = (c.env ?? []).find((e) => e.name === 'PORT')?.value;
        const http = HTTP_PORTS[ownerOf(w)];
        if (http) expect({ workload: w.metadata.name, PORT: port }).toEqual({ workload: w.metadata.name, PORT: String(http) });
      }
    }
  });

  it('probes /healthz and /readyz on a declared port where HTTP exists, and nothing over HTTP elsewhere', () => {
    for (const d of deployments) {
      for (const c of containersOf(d)) {
        const ports = c.ports ?? [];
        const declared = (p: number | string | undefined) => ports.some((x) => x.name === p || x.containerPort === p);
        if (HTTP_PORTS[d.metadata.name]) {
          expect(ports.map((p) => p.containerPort)).toContain(HTTP_PORTS[d.metadata.name]);
          expect({ deployment: d.metadata.name, liveness: c.livenessProbe?.httpGet?.path }).toEqual({ deployment: d.metadata.name, liveness: '/healthz' });
          expect({ deployment: d.metadata.name, readiness: c.readinessProbe?.httpGet?.path }).toEqual({ deployment: d.metadata.name, readiness: '/readyz' });
          for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe]) {
            if (probe?.httpGet) expect(declared(probe.httpGet.port)).toBe(true);
          }
        } else {
          // No HTTP port (the chunk-worker, for now): an HTTP probe would fail and restart it forever.
          expect(ports).toHaveLength(0);
          for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe]) expect(probe?.httpGet).toBeUndefined();
        }
      }
    }
  });

  it('sets resource requests and limits on every container', () => {
    for (const w of workloads) {
      for (const c of containersOf(w)) {
        for (const kind of ['requests', 'limits'] as const) {
          for (const resource of ['cpu', 'memory']) {
            expect({ workload: w.metadata.name, [`${kind}.${resource}`]: Boolean(c.resources?.[kind]?.[resource]) }).toEqual({ workload: w.metadata.name, [`${kind}.${resource}`]: true });
          }
        }
      }
    }
  });

  it('runs every pod as the image user, non-root, read-only, without privilege escalation, with a /tmp emptyDir', () => {
    const dockerUser = /^USER\s+(\d+)/m.exec(read('Dockerfile'))?.[1];
    for (const w of workloads) {
      const pod = w.spec!.template!.spec;
      for (const c of pod.containers) {
        const runAsNonRoot = c.securityContext?.runAsNonRoot ?? pod.securityContext?.runAsNonRoot;
        const runAsUser = c.securityContext?.runAsUser ?? pod.securityContext?.runAsUser;
        expect({ workload: w.metadata.name, runAsNonRoot, readOnlyRootFilesystem: c.securityContext?.readOnlyRootFilesystem, allowPrivilegeEscalation: c.securityContext?.allowPrivilegeEscalation })
          .toEqual({ workload: w.metadata.name, runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
        expect(runAsUser).not.toBe(0);
        if (runAsUser !== undefined && dockerUser) expect(String(runAsUser)).toBe(dockerUser);
        expect(c.securityContext?.capabilities?.drop).toContain('ALL');
        const tmp = (c.volumeMounts ?? []).find((m) => m.mountPath === '/tmp');
        const volume = pod.volumes?.find((v) => v.name === tmp?.name);
        expect({ workload: w.metadata.name, tmpIsEmptyDir: Boolean(volume?.emptyDir) }).toEqual({ workload: w.metadata.name, tmpIsEmptyDir: true });
        for (const m of c.volumeMounts ?? []) expect(pod.volumes?.map((v) => v.name)).toContain(m.name);
      }
    }
  });

  it('mounts the ReadWriteMany claim at BLOB_DIR in gateway and chunk-worker', () => {
    const blobDir = config?.data?.BLOB_DIR;
    expect(blobDir).toMatch(/^\//);
    const claim = ofKind('PersistentVolumeClaim')[0]!.metadata.name;
    for (const name of BLOB_USERS) {
      const pod = find('Deployment', name)!.spec!.template!.spec;
      const mount = pod.containers[0]!.volumeMounts?.find((m) => m.mountPath === blobDir);
      const volume = pod.volumes?.find((v) => v.name === mount?.name);
      expect({ deployment: name, claim: volume?.persistentVolumeClaim?.claimName }).toEqual({ deployment: name, claim });
    }
  });

  it('gives every Deployment more grace than SHUTDOWN_TIMEOUT_MS plus its preStop pause', () => {
    const shutdownMs = Number(config?.data?.SHUTDOWN_TIMEOUT_MS ?? 10_000);
    for (const d of deployments) {
      const pod = d.spec!.template!.spec;
      const preStop = pod.containers[0]!.lifecycle?.preStop;
      const pauseS = preStop?.sleep?.seconds ?? (preStop?.exec?.command?.[0]?.endsWith('sleep') ? Number(preStop.exec.command[1]) : 0);
      const graceMs = (pod.terminationGracePeriodSeconds ?? 30) * 1000;
      expect({ deployment: d.metadata.name, enoughGrace: graceMs > shutdownMs + pauseS * 1000 }).toEqual({ deployment: d.metadata.name, enoughGrace: true });
    }
  });

  it('runs the migrate Job to completion, never restarting it forever', () => {
    const job = ofKind('Job')[0]!;
    expect(['Never', 'OnFailure']).toContain(job.spec!.template!.spec.restartPolicy);
  });

  it('routes each Service to its Deployment on a named container port', () => {
    for (const s of ofKind('Service')) {
      const selector = (s.spec?.selector ?? {}) as Record<string, string>;
      const target = deployments.find((d) => Object.entries(selector).every(([k, v]) => d.spec?.template?.metadata?.labels?.[k] === v));
      expect({ service: s.metadata.name, deployment: target?.metadata.name }).toEqual({ service: s.metadata.name, deployment: s.metadata.name });
      const ports = containersOf(target!)[0]!.ports ?? [];
      for (const p of s.spec?.ports ?? []) {
        const ok = ports.some((c) => c.name === p.targetPort || c.containerPort === (p.targetPort ?? p.port));
        expect({ service: s.metadata.name, port: p.port, targetsContainerPort: ok }).toEqual({ service: s.metadata.name, port: p.port, targetsContainerPort: true });
      }
      // The Deployment's own selector must also match its pods (else the API rejects it).
      const matchLabels = target!.spec!.selector!.matchLabels ?? {};
      for (const [k, v] of Object.entries(matchLabels)) expect(target!.spec!.template!.metadata!.labels![k]).toBe(v);
    }
  });
});

// ---------------------------------------------------------------------------
// The code's own configuration schemas, so a variable added there is not forgotten here.

describe('deployment variables against the config schemas in the source', () => {
  const declared = (file: string): string[] => {
    const text = read(file);
    return [...text.matchAll(/^\s*([A-Z][A-Z0-9_]+):\s*z\b/gm)].map((m) => m[1]!);
  };

  it('knows every variable of the common schema', () => {
    const names = declared('libs/domain/src/config/config.schemas.ts');
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) expect({ name, known: [...COMMON_ENV, ...BLOB_ENV, ...AUTH_ENV, ...JOB_ENV].includes(name) }).toEqual({ name, known: true });
    for (const name of [...COMMON_ENV, ...BLOB_ENV]) expect({ name, declared: names.includes(name) }).toEqual({ name, declared: true });
  });

  it.each(['gateway', 'chunk-worker', 'notifier'])('covers every variable %s reads (where its config module exists)', (service) => {
    const file = `services/${service}/src/config.ts`;
    if (!existsSync(path.join(root, file))) return; // not written yet; the script check above fails meanwhile
    for (const name of declared(file)) {
      const covered = NEEDED_ENV[service]!.includes(name) || LEFT_TO_CODE_DEFAULT.has(name);
      expect({ service, name, covered }).toEqual({ service, name, covered: true });
    }
  });
});
