// Checks the deployment files (Dockerfile, .dockerignore, docker-compose.yml and its
// Prometheus and Grafana files in deploy/) without Docker: parses them and asserts the
// facts the services rely on. k8s/ has its own checks in k8s.test.ts.
//
//   npx jest -c tests/e2e/jest.config.js src/deploy-files.test.ts
//
// TESSERA_DEPLOY_ROOT points the checks at another checkout (used to prove they fail).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import {
  anyProcessReads, BLOB_USERS, defaultMetrics, HTTP_PORTS, irrelevantFor, LEFT_TO_CODE_DEFAULT, neededEnv, read, readsEnv, root,
  scriptProblems, SERVICES, sharedSchemas, tesseraMetrics, type Process,
} from './support/deploy-env';

const SHIPPED_PACKAGES = ['libs/domain', 'libs/adapters', 'services/gateway', 'services/chunk-worker', 'services/notifier'];

// ---------------------------------------------------------------------------
// Helpers

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
  entrypoint?: string | string[];
  environment?: Record<string, unknown> | string[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: string | string[]; disable?: boolean };
  ports?: (string | number | { target?: number; published?: number | string })[];
  volumes?: (string | { type?: string; source?: string; target?: string })[];
  stop_grace_period?: string;
  restart?: string;
  deploy?: { replicas?: number };
  scale?: number;
}

const compose = parse(read('docker-compose.yml'), { merge: true }) as {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
};
const services = compose.services;
const envOf = (name: string): Record<string, string | undefined> => {
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
  .map(([name]) => name as Process);
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
const replicasOf = (name: string) => services[name]?.deploy?.replicas ?? services[name]?.scale ?? 1;
const imageOf = (name: string) => services[name]?.image ?? '';
/** Services that run once and exit (restart "no"), the targets of service_completed_successfully. */
const oneShots = Object.keys(services).filter((name) => services[name]!.restart === 'no');
const argvText = (value: string | string[] | undefined) => (Array.isArray(value) ? value.join(' ') : (value ?? ''));

describe('docker-compose.yml', () => {
  it('builds migrate, gateway, chunk-worker and notifier from the root Dockerfile', () => {
    expect([...builtHere].sort()).toEqual(['chunk-worker', 'gateway', 'migrate', 'notifier']);
  });

  it('gives every service built here a command whose script exists in the source layout', () => {
    expect(scriptProblems(builtHere.map((name) => [name, services[name]!.command]))).toEqual([]);
  });

  it('runs postgres:15, and redis:7 with AOF and noeviction (BullMQ keeps acknowledged jobs), with health checks', () => {
    expect(imageOf('postgres')).toMatch(/^postgres:15\b/);
    expect(imageOf('redis')).toMatch(/^redis:7\b/);
    expect(services.postgres?.healthcheck?.test).toBeDefined();
    expect(services.redis?.healthcheck?.test).toBeDefined();
    const redisArgs = argvText(services.redis?.command);
    expect(redisArgs).toMatch(/--appendonly\s+yes/);
    expect(redisArgs).toMatch(/--maxmemory-policy\s+noeviction/);
  });

  it('runs MinIO with a health check and a one-shot minio/mc service that creates the bucket the services use', () => {
    const minio = Object.keys(services).find((name) => /^(quay\.io\/)?minio\/minio:/.test(imageOf(name)));
    expect(minio).toBeDefined();
    expect(imageOf(minio!)).not.toMatch(/:latest$/);
    expect(services[minio!]!.healthcheck?.test).toBeDefined();
    const bucketJob = Object.keys(services).find((name) => /^(quay\.io\/)?minio\/mc:/.test(imageOf(name)));
    expect(bucketJob).toBeDefined();
    expect(oneShots).toContain(bucketJob);
    expect(conditionsOf(bucketJob!)).toMatchObject({ [minio!]: 'service_healthy' });
    const script = `${argvText(services[bucketJob!]!.entrypoint)} ${argvText(services[bucketJob!]!.command)}`;
    expect(script).toMatch(/\bmc mb --ignore-existing\b/);
    // The bucket named in the mc command is the services' S3_BUCKET (both from the same default).
    const jobEnv = envOf(bucketJob!);
    const bucketVar = /local\/\$\$?\{?(\w+)\}?/.exec(script)?.[1];
    const created = bucketVar ? composeDefault(jobEnv[bucketVar]) : /local\/([a-z0-9.-]+)/.exec(script)?.[1];
    for (const name of BLOB_USERS) {
      const env = envOf(name);
      expect({ service: name, BLOB_STORE: env.BLOB_STORE, S3_BUCKET: composeDefault(env.S3_BUCKET) }).toEqual({ service: name, BLOB_STORE: 's3', S3_BUCKET: created });
      const endpoint = new URL(String(env.S3_ENDPOINT));
      expect({ service: name, endpointHost: endpoint.hostname, endpointPort: endpoint.port, pathStyle: env.S3_FORCE_PATH_STYLE }).toEqual({ service: name, endpointHost: minio, endpointPort: '9000', pathStyle: 'true' });
      // The services' keys are MinIO's root credentials (the same variables and defaults).
      const minioEnv = envOf(minio!);
      expect(env.S3_ACCESS_KEY_ID).toBe(minioEnv.MINIO_ROOT_USER);
      expect(env.S3_SECRET_ACCESS_KEY).toBe(minioEnv.MINIO_ROOT_PASSWORD);
      expect(conditionsOf(name)).toMatchObject({ [bucketJob!]: 'service_completed_successfully' });
    }
  });

  it('orders start-up with depends_on conditions that can come true', () => {
    expect(conditionsOf('migrate')).toMatchObject({ postgres: 'service_healthy' });
    for (const name of SERVICES) {
      expect({ name, deps: conditionsOf(name) }).toMatchObject({
        name,
        deps: { postgres: 'service_healthy', redis: 'service_healthy', migrate: 'service_completed_successfully' },
      });
    }
    for (const name of Object.keys(services)) {
      for (const [dep, condition] of Object.entries(conditionsOf(name))) {
        expect({ name, dep, exists: Boolean(services[dep]) }).toEqual({ name, dep, exists: true });
        expect(['service_started', 'service_healthy', 'service_completed_successfully']).toContain(condition);
        // A service_healthy condition on a service without a health check never becomes true;
        // service_completed_successfully on a service that restarts never completes.
        if (condition === 'service_healthy') expect({ dep, healthcheck: Boolean(services[dep]!.healthcheck?.test) && !services[dep]!.healthcheck?.disable }).toEqual({ dep, healthcheck: true });
        if (condition === 'service_completed_successfully') expect({ dep, oneShot: oneShots.includes(dep) }).toEqual({ dep, oneShot: true });
      }
    }
  });

  it('health-checks every long-running service', () => {
    for (const name of Object.keys(services).filter((n) => !oneShots.includes(n))) {
      expect({ name, healthcheck: Boolean(services[name]!.healthcheck?.test) }).toEqual({ name, healthcheck: true });
    }
  });

  it('health-checks the Tessera services with node fetch on their own port (the image has no curl)', () => {
    for (const service of SERVICES) {
      const test = services[service]!.healthcheck?.test;
      expect(Array.isArray(test)).toBe(true);
      const argv = test as string[];
      expect(argv.slice(0, 2)).toEqual(['CMD', 'node']);
      const script = argv.join(' ');
      expect(script).toContain('fetch(');
      expect(script).toMatch(new RegExp(`://(127\\.0\\.0\\.1|localhost):${HTTP_PORTS[service].port}/(readyz|healthz)\\b`));
      expect(script).not.toMatch(/\bcurl\b|\bwget\b/);
    }
  });

  it('passes every variable each process needs, each one read by that process, credentials never as a plain default', () => {
    for (const name of builtHere) {
      const env = envOf(name);
      const names = Object.keys(env);
      const blobStore = composeDefault(env.BLOB_STORE) ?? 'fs';
      for (const needed of neededEnv(name, blobStore)) expect({ service: name, has: needed, present: names.includes(needed) }).toEqual({ service: name, has: needed, present: true });
      const reads = name === 'migrate' ? anyProcessReads() : readsEnv(name);
      for (const given of names) expect({ service: name, given, read: reads.has(given) }).toEqual({ service: name, given, read: true });
      if (name !== 'migrate') {
        const { port, variable } = HTTP_PORTS[name];
        expect({ service: name, [variable]: env[variable] }).toEqual({ service: name, [variable]: String(port) });
      }
    }
    for (const name of ['gateway', 'notifier']) {
      expect(envOf(name).AUTH_JWT_SECRET).toMatch(/^\$\{AUTH_JWT_SECRET:\?[^}]*32[^}]*\}$/);
    }
  });

  it('covers every variable each service reads, or leaves it to the code default on purpose', () => {
    for (const service of SERVICES) {
      const env = envOf(service);
      const irrelevant = irrelevantFor(composeDefault(env.BLOB_STORE) ?? 'fs', service);
      for (const name of readsEnv(service)) {
        const covered = name in env || LEFT_TO_CODE_DEFAULT.has(name) || irrelevant(name);
        expect({ service, name, covered }).toEqual({ service, name, covered: true });
      }
    }
  });

  it('publishes 3000 and 3001, runs 2 chunk-workers without a host port', () => {
    for (const service of ['gateway', 'notifier'] as const) {
      const port = HTTP_PORTS[service].port;
      const published = (services[service]!.ports ?? []).map((p) =>
        typeof p === 'object' ? `${p.published}:${p.target}` : String(p).split(':').slice(-2).join(':'),
      );
      expect(published).toContain(`${port}:${port}`);
    }
    expect(replicasOf('chunk-worker')).toBe(2);
    // Two replicas cannot publish one host port.
    expect(services['chunk-worker']!.ports ?? []).toEqual([]);
  });

  it('waits longer than SHUTDOWN_TIMEOUT_MS before killing a service', () => {
    for (const service of SERVICES) {
      const shutdown = Number(composeDefault(envOf(service).SHUTDOWN_TIMEOUT_MS) ?? 10_000);
      const grace = durationMs(services[service]!.stop_grace_period ?? '10s');
      expect({ service, graceExceedsShutdown: grace > shutdown }).toEqual({ service, graceExceedsShutdown: true });
    }
  });

  it('mounts only files that exist, and declares every named volume', () => {
    for (const name of Object.keys(services)) {
      for (const { source } of mounts(name)) {
        if (!source) continue;
        if (source.startsWith('.') || source.startsWith('/')) expect({ name, source, exists: existsSync(path.resolve(root, source)) }).toEqual({ name, source, exists: true });
        else expect({ name, volume: source, declared: Object.keys(compose.volumes ?? {}).includes(source) }).toEqual({ name, volume: source, declared: true });
      }
    }
  });

  it('pins every third-party image to a version', () => {
    for (const [name, s] of Object.entries(services)) {
      if (s.build) continue;
      expect({ name, image: s.image, pinned: /:[^:/]+$/.test(s.image ?? '') && !/:latest$/.test(s.image ?? '') }).toEqual({ name, image: s.image, pinned: true });
    }
  });
});

// ---------------------------------------------------------------------------
// Prometheus and Grafana (deploy/)

/** The container path → host path of a service's bind mounts. */
const bindMounts = (name: string) => new Map(mounts(name).filter((m) => m.source?.startsWith('.')).map((m) => [m.target!, path.resolve(root, m.source!)]));
const prometheusService = Object.keys(services).find((name) => /^(prom\/prometheus|quay\.io\/prometheus\/prometheus):/.test(imageOf(name)));
const grafanaService = Object.keys(services).find((name) => /^grafana\/grafana(-oss)?:/.test(imageOf(name)));

describe('deploy/prometheus', () => {
  interface ScrapeConfig {
    job_name: string;
    metrics_path?: string;
    static_configs?: { targets: string[] }[];
    dns_sd_configs?: { names: string[]; type?: string; port?: number }[];
  }
  const configPath = (() => {
    const command = argvText(services[prometheusService ?? '']?.command);
    const inContainer = /--config\.file=(\S+)/.exec(command)?.[1] ?? '/etc/prometheus/prometheus.yml';
    return bindMounts(prometheusService ?? '').get(inContainer);
  })();

  it('runs Prometheus in compose with the repository config file', () => {
    expect(prometheusService).toBeDefined();
    expect(configPath).toBe(path.join(root, 'deploy/prometheus/prometheus.yml'));
  });

  it('scrapes /metrics of every replica of every Tessera service at its port', () => {
    const config = parse(readFileSync(configPath!, 'utf8')) as { scrape_configs: ScrapeConfig[] };
    for (const service of SERVICES) {
      const port = HTTP_PORTS[service].port;
      const replicas = replicasOf(service);
      const jobs = config.scrape_configs.filter(
        (j) =>
          (j.static_configs ?? []).some((s) => s.targets.some((t) => t.startsWith(`${service}:`))) ||
          (j.dns_sd_configs ?? []).some((d) => d.names.some((n) => n === service || n === `tasks.${service}`)),
      );
      expect({ service, jobs: jobs.length }).toEqual({ service, jobs: 1 });
      const job = jobs[0]!;
      expect({ service, path: job.metrics_path ?? '/metrics' }).toEqual({ service, path: '/metrics' });
      const statics = (job.static_configs ?? []).flatMap((s) => s.targets);
      for (const t of statics) expect({ service, target: t }).toEqual({ service, target: `${service}:${port}` });
      for (const d of job.dns_sd_configs ?? []) expect({ service, type: d.type ?? 'SRV', port: d.port }).toEqual({ service, type: 'A', port });
      // A static `name:port` resolves to one replica: several need DNS discovery.
      if (replicas > 1) expect({ service, dnsDiscovery: (job.dns_sd_configs ?? []).length > 0 }).toEqual({ service, dnsDiscovery: true });
    }
  });
});

describe('deploy/grafana', () => {
  const provisioning = bindMounts(grafanaService ?? '').get('/etc/grafana/provisioning');
  const yamlIn = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).map((f) => parse(readFileSync(path.join(dir, f), 'utf8')) as Record<string, unknown>) : []);
  const datasources = yamlIn(path.join(provisioning ?? '', 'datasources')).flatMap((f) => (f.datasources ?? []) as { uid?: string; type: string; url: string }[]);
  const providers = yamlIn(path.join(provisioning ?? '', 'dashboards')).flatMap((f) => (f.providers ?? []) as { type?: string; options: { path: string } }[]);
  const dashboardsDir = path.join(root, 'deploy/grafana/dashboards');
  const dashboards = readdirSync(dashboardsDir).filter((f) => f.endsWith('.json')).map((f) => ({ file: f, json: JSON.parse(readFileSync(path.join(dashboardsDir, f), 'utf8')) as Dashboard }));

  interface Target {
    expr?: string;
    datasource?: { type?: string; uid?: string };
  }
  interface Panel {
    id: number;
    type: string;
    title: string;
    datasource?: { type?: string; uid?: string };
    targets?: Target[];
    panels?: Panel[];
  }
  interface Dashboard {
    uid: string;
    title: string;
    panels: Panel[];
    templating?: { list: { name: string; type: string; query?: string }[] };
  }
  const panelsOf = (d: Dashboard): Panel[] => d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);

  /** The metric names a PromQL expression reads. */
  function metricNames(expr: string): string[] {
    const stripped = expr
      .replace(/"(?:[^"\\]|\\.)*"/g, '""')
      .replace(/\{[^}]*\}/g, ' ')
      .replace(/\[[^\]]*\]/g, ' ')
      .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
    const keywords = new Set(['and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);
    return [...stripped.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)].filter((m) => !m[2] && !keywords.has(m[1]!.toLowerCase())).map((m) => m[1]!);
  }

  it('runs Grafana in compose with the provisioning and dashboards folders mounted', () => {
    expect(grafanaService).toBeDefined();
    expect(provisioning).toBe(path.join(root, 'deploy/grafana/provisioning'));
    const providerPaths = providers.map((p) => p.options.path);
    expect(providerPaths.length).toBeGreaterThan(0);
    for (const p of providerPaths) expect(bindMounts(grafanaService!).get(p)).toBe(dashboardsDir);
    expect(conditionsOf(grafanaService!)).toMatchObject({ [prometheusService!]: 'service_healthy' });
  });

  it('provisions a Prometheus data source pointing at the compose Prometheus', () => {
    const prometheus = datasources.filter((d) => d.type === 'prometheus');
    expect(prometheus).toHaveLength(1);
    const url = new URL(prometheus[0]!.url);
    expect(url.hostname).toBe(prometheusService);
    expect(url.port).toBe('9090');
  });

  it('has a dashboard whose panels all query that Prometheus', () => {
    expect(dashboards.map((d) => d.file)).toContain('tessera.json');
    for (const { file, json } of dashboards) {
      expect(json.uid).toBeTruthy();
      expect(json.title).toBeTruthy();
      const ids = panelsOf(json).map((p) => p.id);
      expect({ file, uniqueIds: new Set(ids).size === ids.length }).toEqual({ file, uniqueIds: true });
      const variable = json.templating?.list.find((v) => v.type === 'datasource');
      const acceptable = new Set([...datasources.map((d) => d.uid), ...(variable?.query === 'prometheus' ? [`\${${variable.name}}`] : [])]);
      for (const panel of panelsOf(json).filter((p) => p.type !== 'row')) {
        for (const ds of [panel.datasource, ...(panel.targets ?? []).map((t) => t.datasource)]) {
          expect({ file, panel: panel.title, datasource: ds?.uid, known: acceptable.has(ds?.uid) }).toEqual({ file, panel: panel.title, datasource: ds?.uid, known: true });
        }
        expect({ file, panel: panel.title, queries: (panel.targets ?? []).filter((t) => t.expr).length > 0 }).toEqual({ file, panel: panel.title, queries: true });
      }
    }
  });

  it('queries only metrics the services export (tessera_* in the source, prom-client defaults)', () => {
    const { mentioned } = tesseraMetrics();
    const known = new Set([...mentioned, ...defaultMetrics(), 'up']);
    const exists = (name: string) => known.has(name) || known.has(name.replace(/_(bucket|sum|count)$/, ''));
    for (const { file, json } of dashboards) {
      for (const panel of panelsOf(json)) {
        for (const t of panel.targets ?? []) {
          for (const name of metricNames(t.expr ?? '')) expect({ file, panel: panel.title, metric: name, exported: exists(name) }).toEqual({ file, panel: panel.title, metric: name, exported: true });
        }
      }
    }
  });

  it('shows every tessera_* metric the services register', () => {
    const { registered } = tesseraMetrics();
    const used = new Set(dashboards.flatMap(({ json }) => panelsOf(json).flatMap((p) => (p.targets ?? []).flatMap((t) => metricNames(t.expr ?? '').map((n) => n.replace(/_(bucket|sum|count)$/, ''))))));
    for (const metric of registered) expect({ metric, onDashboard: used.has(metric) }).toEqual({ metric, onDashboard: true });
  });

  it('reads PromQL metric names correctly', () => {
    expect(metricNames('histogram_quantile(0.99, sum by (le, route) (rate(tessera_x_bucket{status=~"5.."}[$__rate_interval])))')).toEqual(['tessera_x_bucket']);
    expect(metricNames('sum(a_total) / ignoring(x) b or vector(0)')).toEqual(['a_total', 'b']);
  });
});

// ---------------------------------------------------------------------------
// The code's own configuration schemas

describe('deployment variables against the config schemas in the source', () => {
  it('finds the shared schemas and every service config module', () => {
    const shared = sharedSchemas();
    expect(shared.get('commonEnvSchema')).toEqual(expect.arrayContaining(['NODE_ENV', 'DATABASE_URL', 'REDIS_URL', 'REDIS_PREFIX', 'BLOB_STORE', 'BLOB_DIR', 'SHUTDOWN_TIMEOUT_MS']));
    for (const service of SERVICES) expect(existsSync(path.join(root, `services/${service}/src/config.ts`))).toBe(true);
  });

  it.each(SERVICES)('derives what %s reads, its port variable included', (service) => {
    const reads = readsEnv(service);
    expect(reads.has('DATABASE_URL')).toBe(true);
    expect({ service, readsPortVariable: reads.has(HTTP_PORTS[service].variable) }).toEqual({ service, readsPortVariable: true });
    if (BLOB_USERS.includes(service)) expect({ service, readsS3: reads.has('S3_BUCKET') }).toEqual({ service, readsS3: true });
  });
});
