// Checks k8s/ without a cluster or a kustomize binary: renders the base and the example
// overlay with tests/e2e/src/support/kustomize.ts, validates every rendered object against
// the Kubernetes JSON schemas (kubernetes-models; KEDA's with @kubernetes-models/keda),
// refuses fields the schemas do not know (as `kubectl apply --validate=strict` would), and
// checks that the objects agree with each other and with the code: selectors, ports,
// probes, variables, grace periods, routes, network policies, the KEDA list name.
//
//   npx jest -c tests/e2e/jest.config.js src/k8s.test.ts
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import { TriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1/TriggerAuthentication';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service as ServiceModel } from 'kubernetes-models/v1/Service';
import { QUEUES } from '@tessera/domain';
import { kustomizeBuild, KustomizeError, splitImage, type K8sObject } from './support/kustomize';
import {
  anyProcessReads, BLOB_USERS, HTTP_PORTS, irrelevantFor, LEFT_TO_CODE_DEFAULT, neededEnv, readsEnv, root, RUNTIME_ENV, SCRIPTS,
  scriptOf, scriptProblems, SECRET_ENV, SERVICES, type Process, type Service,
} from './support/deploy-env';

// ---------------------------------------------------------------------------
// Types (the parts the checks read)

interface Probe {
  httpGet?: { path?: string; port?: number | string };
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    configMapKeyRef?: { name: string; key: string; optional?: boolean };
    secretKeyRef?: { name: string; key: string; optional?: boolean };
  };
}
interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: EnvVar[];
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
    privileged?: boolean;
    capabilities?: { drop?: string[]; add?: string[] };
    seccompProfile?: { type?: string };
  };
  volumeMounts?: { name: string; mountPath: string }[];
  lifecycle?: { preStop?: { exec?: { command?: string[] }; sleep?: { seconds?: number } } };
}
interface PodSpec {
  containers: Container[];
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; seccompProfile?: { type?: string } };
  terminationGracePeriodSeconds?: number;
  restartPolicy?: string;
  volumes?: { name: string; emptyDir?: object; persistentVolumeClaim?: { claimName: string } }[];
}
interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}
type Obj = K8sObject & {
  data?: Record<string, string | null>;
  stringData?: Record<string, string>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  spec?: any;
};

// ---------------------------------------------------------------------------
// Rendering

const k8sDir = path.join(root, 'k8s');
const BASE = path.join(k8sDir, 'base');
const OVERLAY = path.join(k8sDir, 'overlays', 'example');

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) return yamlFiles(full);
    return /\.ya?ml$/.test(entry) ? [full] : [];
  });
}

function loadDocs(file: string): Obj[] {
  return parseAllDocuments(readFileSync(file, 'utf8')).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
    return doc.toJS() as Obj;
  });
}

/** The example Secret: never applied, but it documents the keys the objects refer to. */
const exampleSecret = loadDocs(path.join(BASE, 'secret.example.yaml'))[0]!;

const renders: Record<'base' | 'overlay', Obj[]> = {
  base: kustomizeBuild(BASE) as Obj[],
  overlay: kustomizeBuild(OVERLAY) as Obj[],
};

// ---------------------------------------------------------------------------
// Schema validation

type ModelClass = new (data: never) => { validate(): void };
const MODELS: Record<string, ModelClass> = {
  'apps/v1 Deployment': Deployment as unknown as ModelClass,
  'batch/v1 Job': Job as unknown as ModelClass,
  'v1 Service': ServiceModel as unknown as ModelClass,
  'v1 ConfigMap': ConfigMap as unknown as ModelClass,
  'v1 Secret': Secret as unknown as ModelClass,
  'v1 Namespace': Namespace as unknown as ModelClass,
  'v1 PersistentVolumeClaim': PersistentVolumeClaim as unknown as ModelClass,
  'policy/v1 PodDisruptionBudget': PodDisruptionBudget as unknown as ModelClass,
  'autoscaling/v2 HorizontalPodAutoscaler': HorizontalPodAutoscaler as unknown as ModelClass,
  'networking.k8s.io/v1 Ingress': Ingress as unknown as ModelClass,
  'networking.k8s.io/v1 NetworkPolicy': NetworkPolicy as unknown as ModelClass,
  'keda.sh/v1alpha1 ScaledObject': ScaledObject as unknown as ModelClass,
  'keda.sh/v1alpha1 TriggerAuthentication': TriggerAuthentication as unknown as ModelClass,
};

/** Schema errors of `o`, [] when valid. */
function schemaErrors(o: Obj): string[] {
  const Model = MODELS[`${o.apiVersion} ${o.kind}`];
  if (!Model) return [`no schema for ${o.apiVersion} ${o.kind}: add its model to MODELS`];
  try {
    new Model(structuredClone(o) as never).validate();
    return [];
  } catch (error) {
    return [(error as Error).message];
  }
}

const UNCHECKABLE = Symbol('not valid anywhere');

/**
 * Fields the schema does not know. The generated validators ignore unknown properties, so
 * each field is replaced in turn by a value no schema type accepts: a field whose bogus
 * value still validates is not in the schema (a typo, or a field of another API version).
 */
function unknownFields(o: Obj): string[] {
  const Model = MODELS[`${o.apiVersion} ${o.kind}`]!;
  const doc = structuredClone(o) as Record<string, unknown>;
  const valid = () => {
    try {
      new Model(doc as never).validate();
      return true;
    } catch {
      return false;
    }
  };
  const found: string[] = [];
  const walk = (node: unknown, at: string[]) => {
    if (Array.isArray(node)) {
      node.forEach((item, i) => walk(item, [...at, String(i)]));
      return;
    }
    if (typeof node !== 'object' || node === null) return;
    const record = node as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      const saved = record[key];
      record[key] = UNCHECKABLE;
      const accepted = valid();
      record[key] = saved;
      if (accepted) found.push([...at, key].join('.'));
      else walk(saved, [...at, key]);
    }
  };
  walk(doc, []);
  return found;
}

// ---------------------------------------------------------------------------
// Helpers over rendered objects

const ofKind = (objs: Obj[], kind: string) => objs.filter((o) => o.kind === kind);
const find = (objs: Obj[], kind: string, name: string) => objs.find((o) => o.kind === kind && o.metadata.name === name);
const podSpec = (w: Obj): PodSpec => w.spec.template.spec as PodSpec;
const podLabels = (w: Obj): Record<string, string> => (w.spec.template.metadata?.labels ?? {}) as Record<string, string>;
const workloadsOf = (objs: Obj[]) => [...ofKind(objs, 'Deployment'), ...ofKind(objs, 'Job')];
const PROCESS_BY_SCRIPT = new Map(Object.entries(SCRIPTS).map(([p, s]) => [s, p as Process]));
/** Which Tessera process a workload runs, from its command. */
const processOf = (w: Obj): Process | undefined => {
  const c = podSpec(w).containers[0]!;
  const script = scriptOf([...(c.command ?? []), ...(c.args ?? [])]);
  return script ? PROCESS_BY_SCRIPT.get(script) : undefined;
};
const deploymentOf = (objs: Obj[], service: Service) => ofKind(objs, 'Deployment').find((d) => processOf(d) === service);

function selects(selector: LabelSelector | undefined, labels: Record<string, string>): boolean {
  if (!selector) return false;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = e.key in labels;
    const value = labels[e.key];
    const ok =
      e.operator === 'In' ? has && (e.values ?? []).includes(value!)
      : e.operator === 'NotIn' ? !has || !(e.values ?? []).includes(value!)
      : e.operator === 'Exists' ? has
      : e.operator === 'DoesNotExist' ? !has
      : (() => {
          throw new Error(`unknown selector operator ${e.operator}`);
        })();
    if (!ok) return false;
  }
  return true;
}

/** A Kubernetes quantity in base units (cores, bytes). */
function quantity(value: string | number): number {
  const m = /^(\d+(?:\.\d+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(String(value));
  if (!m) throw new Error(`not a quantity: ${value}`);
  const factor = { m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 }[m[2] as 'm'] ?? 1;
  return Number(m[1]) * factor;
}

/** The keys of a ConfigMap or Secret (null values are deleted keys). */
const keysOf = (o: Obj | undefined): string[] =>
  Object.entries({ ...(o?.data ?? {}), ...(o?.stringData ?? {}) }).filter(([, v]) => v !== null && v !== undefined).map(([k]) => k);

/** The Secrets a container may refer to: the rendered ones plus the example (created out of band). */
const secretsFor = (objs: Obj[]) => [...ofKind(objs, 'Secret'), ...(find(objs, 'Secret', exampleSecret.metadata.name) ? [] : [exampleSecret])];

/** Every variable a container gets, with its value where it is plain or from a ConfigMap; problems for dangling references. */
function resolveEnv(objs: Obj[], c: Container): { vars: Map<string, string | undefined>; explicit: string[]; problems: string[] } {
  const vars = new Map<string, string | undefined>();
  const problems: string[] = [];
  const secrets = secretsFor(objs);
  for (const from of c.envFrom ?? []) {
    if (from.configMapRef) {
      const cm = find(objs, 'ConfigMap', from.configMapRef.name);
      if (!cm) problems.push(`${c.name}: envFrom ConfigMap ${from.configMapRef.name} does not exist`);
      for (const k of keysOf(cm)) vars.set(k, cm!.data?.[k] ?? undefined);
    }
    if (from.secretRef) {
      const s = secrets.find((x) => x.metadata.name === from.secretRef!.name);
      if (!s) problems.push(`${c.name}: envFrom Secret ${from.secretRef.name} does not exist`);
      for (const k of keysOf(s)) vars.set(k, undefined);
    }
  }
  for (const e of c.env ?? []) {
    const cmRef = e.valueFrom?.configMapKeyRef;
    const secretRef = e.valueFrom?.secretKeyRef;
    if (cmRef) {
      const cm = find(objs, 'ConfigMap', cmRef.name);
      if (!keysOf(cm).includes(cmRef.key)) problems.push(`${c.name}: ${e.name} refers to ConfigMap ${cmRef.name} key ${cmRef.key}, which does not exist`);
      vars.set(e.name, cm?.data?.[cmRef.key] ?? undefined);
    } else if (secretRef) {
      const s = secrets.find((x) => x.metadata.name === secretRef.name);
      // Optional keys too must be documented in the example Secret.
      if (!keysOf(s).includes(secretRef.key)) problems.push(`${c.name}: ${e.name} refers to Secret ${secretRef.name} key ${secretRef.key}, which the example Secret does not document`);
      vars.set(e.name, undefined);
    } else {
      vars.set(e.name, e.value);
    }
  }
  return { vars, explicit: (c.env ?? []).map((e) => e.name), problems };
}

/** The ConfigMap every Tessera container loads whole. */
const sharedConfig = (objs: Obj[]) => find(objs, 'ConfigMap', 'tessera-config');

/** The Service, port number and path an Ingress route sends `host` + `requestPath` to (longest prefix wins across every Ingress, as ingress-nginx merges them). */
function route(objs: Obj[], host: string, requestPath: string): { service: string; port: number | string } | undefined {
  let best: { length: number; service: string; port: number | string } | undefined;
  for (const ing of ofKind(objs, 'Ingress')) {
    for (const rule of ing.spec.rules ?? []) {
      if (rule.host !== host) continue;
      for (const p of rule.http?.paths ?? []) {
        const prefix = String(p.path ?? '/').replace(/\/+$/, '');
        const hit = p.pathType === 'Exact' ? requestPath === p.path : requestPath === prefix || requestPath.startsWith(`${prefix}/`) || prefix === '';
        if (hit && (!best || prefix.length > best.length)) {
          best = { length: prefix.length, service: p.backend.service.name, port: p.backend.service.port.name ?? p.backend.service.port.number };
        }
      }
    }
  }
  return best && { service: best.service, port: best.port };
}

/** Whether pods labelled `source` (same namespace) may open `port` on pods labelled `target`, per the NetworkPolicies. */
function allowed(objs: Obj[], source: Record<string, string>, target: Record<string, string>, port: number): boolean {
  const policies = ofKind(objs, 'NetworkPolicy').filter((p) => selects(p.spec.podSelector, target) && (p.spec.policyTypes ?? ['Ingress']).includes('Ingress'));
  if (policies.length === 0) return true;
  return policies.some((p) =>
    (p.spec.ingress ?? []).some((rule: { from?: { podSelector?: LabelSelector; namespaceSelector?: LabelSelector }[]; ports?: { port?: number }[] }) => {
      const portOk = !rule.ports || rule.ports.length === 0 || rule.ports.some((x) => x.port === undefined || x.port === port);
      const peerOk = !rule.from || rule.from.length === 0 || rule.from.some((peer) => !peer.namespaceSelector && selects(peer.podSelector ?? {}, source));
      return portOk && peerOk;
    }),
  );
}

// ---------------------------------------------------------------------------
// The files

describe('k8s/ files', () => {
  it('parse as YAML, every document', () => {
    const files = yamlFiles(k8sDir);
    expect(files.length).toBeGreaterThan(5);
    for (const file of files) expect(() => loadDocs(file)).not.toThrow();
  });

  it('are all used: every base manifest is a resource (except the example Secret), every overlay file a resource or a patch', () => {
    const used = (dir: string) => {
      const k = parse(readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8')) as { resources?: string[]; patches?: { path?: string }[] };
      return new Set([
        'kustomization.yaml',
        ...(k.resources ?? []).map((r) => path.relative(dir, path.resolve(dir, r))),
        ...(k.patches ?? []).flatMap((p) => (p.path ? [path.relative(dir, path.resolve(dir, p.path))] : [])),
      ]);
    };
    const base = used(BASE);
    for (const file of yamlFiles(BASE).map((f) => path.relative(BASE, f))) {
      expect({ file, used: base.has(file) || file === 'secret.example.yaml' }).toEqual({ file, used: true });
    }
    expect(base.has('secret.example.yaml')).toBe(false); // a placeholder secret is never applied
    const overlay = used(OVERLAY);
    for (const file of yamlFiles(OVERLAY).map((f) => path.relative(OVERLAY, f))) expect({ file, used: overlay.has(file) }).toEqual({ file, used: true });
    expect(overlay.has('../../base')).toBe(true);
  });

  it('keep credentials out of every ConfigMap, and the example Secret unusable as is', () => {
    for (const file of yamlFiles(k8sDir)) {
      for (const doc of loadDocs(file).filter((d) => d?.kind === 'ConfigMap')) {
        for (const key of SECRET_ENV) expect({ file, key, inConfigMap: key in (doc.data ?? {}) }).toEqual({ file, key, inConfigMap: false });
      }
    }
    for (const key of SECRET_ENV) expect({ key, documented: keysOf(exampleSecret).includes(key) }).toEqual({ key, documented: true });
    // The services reject a secret shorter than 32 characters.
    expect(String(exampleSecret.stringData?.AUTH_JWT_SECRET).length).toBeLessThan(32);
    expect(schemaErrors(exampleSecret)).toEqual([]);
    expect(unknownFields(exampleSecret)).toEqual([]);
  });
});

// ---------------------------------------------------------------------------
// The renderer itself

describe('kustomize renderer (support/kustomize.ts)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'tessera-kustomize-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const write = (file: string, text: string) => {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), text);
  };
  const deployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  selector: {matchLabels: {app: a}}
  template:
    metadata: {labels: {app: a}}
    spec:
      containers:
        - name: app
          image: app:1
          env: [{name: A, value: "1"}, {name: B, value: "2"}]
          volumeMounts: [{name: data, mountPath: /data}, {name: tmp, mountPath: /tmp}]
      volumes: [{name: data, emptyDir: {}}, {name: tmp, emptyDir: {}}]
`;

  it('applies strategic merge patches with merge keys, $patch: delete and null, then namespace, labels and images', () => {
    write('base/app.yaml', `${deployment}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {X: "1", Y: "2"}\n`);
    write('base/kustomization.yaml', 'resources: [app.yaml]\n');
    write('overlay/ns.yaml', 'apiVersion: v1\nkind: Namespace\nmetadata: {name: whatever}\n');
    write('overlay/kustomization.yaml', `namespace: prod
resources: [ns.yaml, ../base]
labels: [{pairs: {team: t}, includeTemplates: true}]
images: [{name: app, newName: reg.example/app, newTag: "2"}]
patches:
  - patch: |-
      apiVersion: apps/v1
      kind: Deployment
      metadata: {name: app}
      spec:
        template:
          spec:
            containers:
              - name: app
                env: [{name: B, value: "3"}, {name: C, value: "4"}]
                volumeMounts: [{mountPath: /data, $patch: delete}]
            volumes: [{name: data, $patch: delete}]
  - patch: |-
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: cfg}
      data: {X: null, Z: "3"}
`);
    const out = kustomizeBuild(path.join(dir, 'overlay')) as Obj[];
    expect(find(out, 'Namespace', 'prod')).toBeDefined();
    const app = find(out, 'Deployment', 'app')!;
    expect(app.metadata.namespace).toBe('prod');
    expect(app.metadata.labels).toEqual({ team: 't' });
    expect(app.spec.template.metadata.labels).toEqual({ app: 'a', team: 't' });
    expect(app.spec.selector).toEqual({ matchLabels: { app: 'a' } });
    const c = app.spec.template.spec.containers[0];
    expect(c.image).toBe('reg.example/app:2');
    expect(c.env).toEqual([{ name: 'A', value: '1' }, { name: 'B', value: '3' }, { name: 'C', value: '4' }]);
    expect(c.volumeMounts).toEqual([{ name: 'tmp', mountPath: '/tmp' }]);
    expect(app.spec.template.spec.volumes).toEqual([{ name: 'tmp', emptyDir: {} }]);
    expect(find(out, 'ConfigMap', 'cfg')!.data).toEqual({ Y: '2', Z: '3' });
  });

  it('applies JSON 6902 patches to a target and deletes whole objects', () => {
    write('k/app.yaml', deployment);
    write('k/ops.yaml', '- op: replace\n  path: /spec/template/spec/containers/0/image\n  value: other:9\n- op: add\n  path: /metadata/annotations\n  value: {a: b}\n');
    write('k/cm.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: gone}\n');
    write('k/kustomization.yaml', `resources: [app.yaml, cm.yaml]
patches:
  - path: ops.yaml
    target: {kind: Deployment, name: app}
  - patch: |-
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: gone}
      $patch: delete
`);
    const out = kustomizeBuild(path.join(dir, 'k')) as Obj[];
    expect(out.map((o) => o.kind)).toEqual(['Deployment']);
    expect(out[0]!.spec.template.spec.containers[0].image).toBe('other:9');
    expect(out[0]!.metadata.annotations).toEqual({ a: 'b' });
  });

  it.each([
    ['an unsupported field', 'resources: [app.yaml]\ncommonLabels: {a: b}\n', /unsupported kustomization field.*commonLabels/],
    ['a name prefix', 'resources: [app.yaml]\nnamePrefix: x-\n', /unsupported kustomization field.*namePrefix/],
    ['a generator', 'resources: [app.yaml]\nconfigMapGenerator: [{name: c, literals: [A=1]}]\n', /unsupported kustomization field.*configMapGenerator/],
    ['labels in selectors', 'resources: [app.yaml]\nlabels: [{pairs: {a: b}, includeSelectors: true}]\n', /includeSelectors/],
    ['a patch that matches nothing', 'resources: [app.yaml]\npatches: [{patch: "apiVersion: apps/v1\\nkind: Deployment\\nmetadata: {name: nope}\\nspec: {}"}]\n', /no object matches Deployment nope/],
    ['a JSON 6902 path that does not exist', 'resources: [app.yaml]\npatches: [{target: {kind: Deployment, name: app}, patch: "- {op: replace, path: /spec/nope/x, value: 1}"}]\n', /does not exist/],
    ['a pattern target', 'resources: [app.yaml]\npatches: [{target: {kind: Deployment, name: "a.*"}, patch: "- {op: remove, path: /spec}"}]\n', /only exact names/],
    ['a missing resource', 'resources: [nope.yaml]\n', /does not exist/],
    ['a remote resource', 'resources: [https://github.com/x/y]\n', /remote resource/],
    ['a duplicate object', 'resources: [app.yaml, app.yaml]\n', /more than once/],
  ])('refuses %s loudly', (_, kustomization, message) => {
    write('k/app.yaml', deployment);
    write('k/kustomization.yaml', kustomization);
    expect(() => kustomizeBuild(path.join(dir, 'k'))).toThrow(KustomizeError);
    expect(() => kustomizeBuild(path.join(dir, 'k'))).toThrow(message);
  });

  it('splits image references like kustomize', () => {
    expect(splitImage('registry:5000/team/app:1.2')).toEqual({ name: 'registry:5000/team/app', tag: '1.2' });
    expect(splitImage('app@sha256:abc')).toEqual({ name: 'app', digest: 'sha256:abc' });
    expect(splitImage('app')).toEqual({ name: 'app' });
  });
});

// ---------------------------------------------------------------------------
// The rendered base and overlay

describe.each(['base', 'overlay'] as const)('k8s %s, rendered', (which) => {
  const objs = renders[which];
  const config = sharedConfig(objs);
  const blobStore = config?.data?.BLOB_STORE ?? 'fs';
  const deployments = ofKind(objs, 'Deployment');
  const workloads = workloadsOf(objs);
  const shutdownMs = Number(config?.data?.SHUTDOWN_TIMEOUT_MS ?? 10_000);

  it('renders', () => {
    expect(objs.length).toBeGreaterThan(10);
  });

  it('validates every object against the Kubernetes (and KEDA) JSON schemas', () => {
    for (const o of objs) expect({ object: `${o.kind}/${o.metadata.name}`, errors: schemaErrors(o) }).toEqual({ object: `${o.kind}/${o.metadata.name}`, errors: [] });
  });

  it('uses no field the schemas do not know (kubectl --validate=strict)', () => {
    for (const o of objs) expect({ object: `${o.kind}/${o.metadata.name}`, unknown: unknownFields(o) }).toEqual({ object: `${o.kind}/${o.metadata.name}`, unknown: [] });
  });

  it('has per service a Deployment, a Service and a PodDisruptionBudget; the migrate Job; the ConfigMap', () => {
    for (const service of SERVICES) {
      const d = deploymentOf(objs, service);
      expect({ service, deployment: d?.metadata.name }).toEqual({ service, deployment: service });
      const pods = podLabels(d!);
      expect({ service, services: ofKind(objs, 'Service').filter((s) => selects({ matchLabels: s.spec.selector }, pods)).length }).toEqual({ service, services: 1 });
      expect({ service, pdbs: ofKind(objs, 'PodDisruptionBudget').filter((p) => selects(p.spec.selector, pods)).length }).toEqual({ service, pdbs: 1 });
    }
    expect(ofKind(objs, 'Job').map(processOf)).toEqual(['migrate']);
    expect(config).toBeDefined();
  });

  it('runs the right script, existing in the source layout, in every workload', () => {
    const commands = workloads.map((w): [Process, unknown] => {
      const c = podSpec(w).containers[0]!;
      return [processOf(w) ?? (w.metadata.name as Process), [...(c.command ?? []), ...(c.args ?? [])]];
    });
    expect(scriptProblems(commands)).toEqual([]);
    expect(workloads.every((w) => podSpec(w).containers.length === 1)).toBe(true);
  });

  it('gives every container the variables its process needs, each one a variable Tessera reads', () => {
    const readByAnyone = anyProcessReads();
    for (const w of workloads) {
      const process = processOf(w)!;
      for (const c of podSpec(w).containers) {
        const { vars, explicit, problems } = resolveEnv(objs, c);
        expect({ workload: w.metadata.name, problems }).toEqual({ workload: w.metadata.name, problems: [] });
        for (const needed of neededEnv(process, blobStore)) expect({ workload: w.metadata.name, needs: needed, present: vars.has(needed) }).toEqual({ workload: w.metadata.name, needs: needed, present: true });
        // The shared ConfigMap reaches every process: each key must be read by some process.
        for (const given of vars.keys()) expect({ workload: w.metadata.name, given, read: readByAnyone.has(given) || RUNTIME_ENV.has(given) }).toEqual({ workload: w.metadata.name, given, read: true });
        // A variable set on one container must be read by that very process.
        const reads = readsEnv(process);
        for (const name of explicit) expect({ workload: w.metadata.name, env: name, readByIt: reads.has(name) || RUNTIME_ENV.has(name) }).toEqual({ workload: w.metadata.name, env: name, readByIt: true });
        if (process !== 'migrate') {
          const { port, variable } = HTTP_PORTS[process];
          expect({ workload: w.metadata.name, [variable]: vars.get(variable) }).toEqual({ workload: w.metadata.name, [variable]: String(port) });
        }
      }
    }
  });

  it('covers every variable each service reads, or leaves it to the code default on purpose', () => {
    // readsEnv comes from the config schemas: a variable added there must be decided here.
    for (const service of SERVICES) {
      const irrelevant = irrelevantFor(blobStore, service);
      const c = podSpec(deploymentOf(objs, service)!).containers[0]!;
      const { vars } = resolveEnv(objs, c);
      for (const name of readsEnv(service)) {
        const covered = vars.has(name) || LEFT_TO_CODE_DEFAULT.has(name) || irrelevant(name);
        expect({ service, name, covered }).toEqual({ service, name, covered: true });
      }
    }
  });

  it('probes /healthz (liveness) and /readyz (readiness) on each service port, declared on the container', () => {
    for (const service of SERVICES) {
      const c = podSpec(deploymentOf(objs, service)!).containers[0]!;
      const port = HTTP_PORTS[service].port;
      // The gateway also declares its metrics port (METRICS_PORT): /metrics stays off the port the Ingress routes to.
      const metricsPort = service === 'gateway' ? [Number(c.env?.find((e) => e.name === 'METRICS_PORT')?.value)] : [];
      expect({ service, ports: (c.ports ?? []).map((p) => p.containerPort) }).toEqual({ service, ports: [port, ...metricsPort] });
      const resolve = (p: number | string | undefined) => (typeof p === 'number' ? p : c.ports?.find((x) => x.name === p)?.containerPort);
      expect({ service, liveness: c.livenessProbe?.httpGet?.path, livenessPort: resolve(c.livenessProbe?.httpGet?.port) }).toEqual({ service, liveness: '/healthz', livenessPort: port });
      expect({ service, readiness: c.readinessProbe?.httpGet?.path, readinessPort: resolve(c.readinessProbe?.httpGet?.port) }).toEqual({ service, readiness: '/readyz', readinessPort: port });
      if (c.startupProbe) expect({ service, startupPort: resolve(c.startupProbe.httpGet?.port) }).toEqual({ service, startupPort: port });
    }
  });

  it('sets resource requests and limits on every container, limits not below requests', () => {
    for (const w of workloads) {
      for (const c of podSpec(w).containers) {
        for (const resource of ['cpu', 'memory']) {
          const request = c.resources?.requests?.[resource];
          const limit = c.resources?.limits?.[resource];
          expect({ workload: w.metadata.name, resource, request: Boolean(request), limit: Boolean(limit) }).toEqual({ workload: w.metadata.name, resource, request: true, limit: true });
          expect({ workload: w.metadata.name, resource, limitCoversRequest: quantity(limit!) >= quantity(request!) }).toEqual({ workload: w.metadata.name, resource, limitCoversRequest: true });
        }
      }
    }
  });

  it('runs every pod as the image user: non-root, read-only root, no privilege escalation, no capabilities, RuntimeDefault seccomp, an emptyDir /tmp', () => {
    const dockerUser = /^USER\s+(\d+)/m.exec(readFileSync(path.join(root, 'Dockerfile'), 'utf8'))?.[1];
    for (const w of workloads) {
      const pod = podSpec(w);
      expect((w.spec.template.spec as { automountServiceAccountToken?: boolean }).automountServiceAccountToken).toBe(false);
      for (const c of pod.containers) {
        const sc = c.securityContext ?? {};
        const facts = {
          workload: w.metadata.name,
          runAsNonRoot: sc.runAsNonRoot ?? pod.securityContext?.runAsNonRoot,
          runAsUser: String(sc.runAsUser ?? pod.securityContext?.runAsUser),
          readOnlyRootFilesystem: sc.readOnlyRootFilesystem,
          allowPrivilegeEscalation: sc.allowPrivilegeEscalation,
          dropsAll: sc.capabilities?.drop?.includes('ALL') ?? false,
          adds: sc.capabilities?.add ?? [],
          seccomp: sc.seccompProfile?.type ?? pod.securityContext?.seccompProfile?.type,
        };
        expect(facts).toEqual({ workload: w.metadata.name, runAsNonRoot: true, runAsUser: dockerUser ?? '1000', readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, dropsAll: true, adds: [], seccomp: 'RuntimeDefault' });
        expect(sc.privileged ?? false).toBe(false);
        const tmp = (c.volumeMounts ?? []).find((m) => m.mountPath === '/tmp');
        const volume = pod.volumes?.find((v) => v.name === tmp?.name);
        expect({ workload: w.metadata.name, tmpIsEmptyDir: Boolean(volume?.emptyDir) }).toEqual({ workload: w.metadata.name, tmpIsEmptyDir: true });
        for (const m of c.volumeMounts ?? []) expect({ workload: w.metadata.name, mount: m.name, declared: Boolean(pod.volumes?.some((v) => v.name === m.name)) }).toEqual({ workload: w.metadata.name, mount: m.name, declared: true });
      }
    }
  });

  it('stores blobs as BLOB_STORE says: a ReadWriteMany claim at BLOB_DIR for fs, a bucket and no volume for s3', () => {
    const pvcs = ofKind(objs, 'PersistentVolumeClaim');
    if (blobStore === 'fs') {
      const blobDir = config?.data?.BLOB_DIR;
      expect(blobDir).toMatch(/^\//);
      expect(pvcs).toHaveLength(1);
      expect(pvcs[0]!.spec.accessModes).toEqual(['ReadWriteMany']);
      for (const service of BLOB_USERS) {
        const pod = podSpec(deploymentOf(objs, service)!);
        const mount = pod.containers[0]!.volumeMounts?.find((m) => m.mountPath === blobDir);
        const volume = pod.volumes?.find((v) => v.name === mount?.name);
        expect({ service, claim: volume?.persistentVolumeClaim?.claimName }).toEqual({ service, claim: pvcs[0]!.metadata.name });
      }
    } else {
      expect(blobStore).toBe('s3');
      expect(config?.data?.S3_BUCKET).toMatch(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/);
      expect(pvcs).toHaveLength(0);
      for (const w of workloads) expect({ workload: w.metadata.name, claims: (podSpec(w).volumes ?? []).filter((v) => v.persistentVolumeClaim).length }).toEqual({ workload: w.metadata.name, claims: 0 });
    }
  });

  it('gives every pod more grace than its preStop pause plus SHUTDOWN_TIMEOUT_MS, with 5 s to spare', () => {
    for (const w of deployments) {
      const pod = podSpec(w);
      const preStop = pod.containers[0]!.lifecycle?.preStop;
      const pauseS = preStop?.sleep?.seconds ?? (preStop?.exec?.command?.[0]?.endsWith('sleep') ? Number(preStop.exec.command[1]) : 0);
      const graceMs = (pod.terminationGracePeriodSeconds ?? 30) * 1000;
      expect({ deployment: w.metadata.name, graceMs, enough: graceMs >= pauseS * 1000 + shutdownMs + 5000 }).toEqual({ deployment: w.metadata.name, graceMs, enough: true });
    }
    // Gateway and notifier receive traffic: they pause before draining, so endpoints are gone first.
    for (const service of ['gateway', 'notifier'] as const) {
      const preStop = podSpec(deploymentOf(objs, service)!).containers[0]!.lifecycle?.preStop;
      expect({ service, preStop: Boolean(preStop?.sleep ?? preStop?.exec) }).toEqual({ service, preStop: true });
    }
  });

  it('routes each Service to exactly one Deployment on a declared container port', () => {
    for (const s of ofKind(objs, 'Service')) {
      const targets = deployments.filter((d) => selects({ matchLabels: s.spec.selector }, podLabels(d)));
      expect({ service: s.metadata.name, deployments: targets.map((d) => d.metadata.name) }).toEqual({ service: s.metadata.name, deployments: [s.metadata.name] });
      const ports = podSpec(targets[0]!).containers[0]!.ports ?? [];
      for (const p of s.spec.ports) {
        const ok = ports.some((c) => c.name === p.targetPort || c.containerPort === (p.targetPort ?? p.port));
        expect({ service: s.metadata.name, port: p.port, targetsContainerPort: ok }).toEqual({ service: s.metadata.name, port: p.port, targetsContainerPort: true });
      }
    }
    for (const d of deployments) expect({ deployment: d.metadata.name, selectsOwnPods: selects(d.spec.selector, podLabels(d)) }).toEqual({ deployment: d.metadata.name, selectsOwnPods: true });
    // Distinct selectors: one Deployment's selector never matches another's pods.
    for (const d of deployments) for (const other of deployments.filter((x) => x !== d)) expect(selects(d.spec.selector, podLabels(other))).toBe(false);
  });

  it('lets autoscalers own the replica counts: HPA on CPU for gateway and notifier, KEDA for the chunk-worker, and PDBs that never block a drain', () => {
    const hpas = ofKind(objs, 'HorizontalPodAutoscaler');
    const scaled = ofKind(objs, 'ScaledObject');
    const owners = new Map<string, { min: number; max: number; kind: string }>();
    for (const h of hpas) {
      expect(h.apiVersion).toBe('autoscaling/v2');
      const cpu = (h.spec.metrics ?? []).find((m: { type: string; resource?: { name: string } }) => m.type === 'Resource' && m.resource?.name === 'cpu');
      expect({ hpa: h.metadata.name, cpuUtilization: cpu?.resource?.target?.type }).toEqual({ hpa: h.metadata.name, cpuUtilization: 'Utilization' });
      owners.set(h.spec.scaleTargetRef.name, { min: h.spec.minReplicas ?? 1, max: h.spec.maxReplicas, kind: 'HorizontalPodAutoscaler' });
    }
    for (const s of scaled) owners.set(s.spec.scaleTargetRef.name, { min: s.spec.minReplicaCount ?? 0, max: s.spec.maxReplicaCount ?? 100, kind: 'ScaledObject' });
    expect(owners.get('gateway')?.kind).toBe('HorizontalPodAutoscaler');
    expect(owners.get('notifier')?.kind).toBe('HorizontalPodAutoscaler');
    expect(owners.get('chunk-worker')?.kind).toBe('ScaledObject');
    for (const [name, bounds] of owners) {
      const d = find(objs, 'Deployment', name);
      expect({ target: name, exists: Boolean(d) }).toEqual({ target: name, exists: true });
      // A replica count in the Deployment would reset the autoscaler's choice at every apply.
      expect({ deployment: name, replicas: d!.spec.replicas }).toEqual({ deployment: name, replicas: undefined });
      expect({ target: name, sane: bounds.min >= 1 && bounds.max >= bounds.min }).toEqual({ target: name, sane: true });
      // CPU utilisation is measured against the request.
      if (bounds.kind === 'HorizontalPodAutoscaler') expect(podSpec(d!).containers.every((c) => c.resources?.requests?.cpu)).toBe(true);
    }
    for (const pdb of ofKind(objs, 'PodDisruptionBudget')) {
      const d = deployments.find((x) => selects(pdb.spec.selector, podLabels(x)))!;
      const min = owners.get(d.metadata.name)?.min ?? d.spec.replicas ?? 1;
      const disruptible = pdb.spec.maxUnavailable !== undefined ? Number(pdb.spec.maxUnavailable) >= 1 : Number(pdb.spec.minAvailable) < min;
      expect({ pdb: pdb.metadata.name, disruptible }).toEqual({ pdb: pdb.metadata.name, disruptible: true });
    }
  });

  it('scales the chunk-worker on the BullMQ wait list of the chunks queue, with the Redis of REDIS_URL', () => {
    const [so] = ofKind(objs, 'ScaledObject');
    expect(so).toBeDefined();
    const trigger = (so!.spec.triggers as { type: string; metadata: Record<string, string>; authenticationRef?: { name: string } }[]).find((t) => t.type === 'redis');
    expect(trigger).toBeDefined();
    // The key as BullMQ itself names it, from the bullmq the adapters use.
    const { QueueKeys } = createRequire(path.join(root, 'libs/adapters/package.json'))('bullmq') as typeof import('bullmq');
    const prefix = config?.data?.REDIS_PREFIX ?? 'tessera';
    expect(trigger!.metadata.listName).toBe(new QueueKeys(prefix).toKey(QUEUES.chunks, 'wait'));
    expect(Number(trigger!.metadata.listLength)).toBeGreaterThan(0);
    // KEDA's operator connects from its own namespace: an in-cluster Service name must be
    // qualified with ours (the base has none yet: any namespace).
    const redisUrl = new URL(String(exampleSecret.stringData?.REDIS_URL));
    const port = redisUrl.port || '6379';
    const ns = so!.metadata.namespace;
    const address = String(trigger!.metadata.address);
    if (redisUrl.hostname.includes('.')) expect(address).toBe(`${redisUrl.hostname}:${port}`);
    else expect(address).toMatch(new RegExp(`^${redisUrl.hostname}\\.${ns ?? '[a-z0-9-]+'}\\.svc(\\.cluster\\.local)?:${port}$`));
    expect(trigger!.metadata.databaseIndex ?? '0').toBe(redisUrl.pathname.replace(/^\//, '') || '0');
    expect(trigger!.metadata.enableTLS ?? 'false').toBe(String(redisUrl.protocol === 'rediss:'));
    // The password comes through a TriggerAuthentication from a documented Secret key.
    const auth = find(objs, 'TriggerAuthentication', trigger!.authenticationRef!.name);
    expect(auth).toBeDefined();
    for (const ref of auth!.spec.secretTargetRef as { parameter: string; name: string; key: string }[]) {
      expect({ ref, documented: secretsFor(objs).some((s) => s.metadata.name === ref.name && keysOf(s).includes(ref.key)) }).toEqual({ ref, documented: true });
    }
    const password = decodeURIComponent(redisUrl.password);
    expect(password).toBe(String(exampleSecret.stringData?.REDIS_PASSWORD));
  });

  it('routes /socket.io to the notifier and everything else to the gateway through ingress-nginx, unbuffered and without a body limit', () => {
    const ingresses = ofKind(objs, 'Ingress');
    expect(ingresses.length).toBeGreaterThan(0);
    const hosts = new Set(ingresses.flatMap((i) => (i.spec.rules ?? []).map((r: { host: string }) => r.host)));
    expect(hosts.size).toBe(1);
    const [host] = [...hosts] as string[];
    const cases: [string, Service][] = [
      ['/socket.io/', 'notifier'], ['/socket.io', 'notifier'],
      ['/', 'gateway'], ['/v1/uploads', 'gateway'], ['/v1/uploads/x/chunks/0', 'gateway'], ['/files/abc', 'gateway'],
      ['/upload', 'gateway'], ['/admin/queues', 'gateway'], ['/socket.iox', 'gateway'],
    ];
    for (const [requestPath, service] of cases) {
      const r = route(objs, host!, requestPath);
      expect({ requestPath, service: r?.service }).toEqual({ requestPath, service });
      const svc = find(objs, 'Service', r!.service)!;
      const port = (svc.spec.ports as { name?: string; port: number }[]).find((p) => p.name === r!.port || p.port === r!.port);
      expect({ requestPath, port: port?.port }).toEqual({ requestPath, port: HTTP_PORTS[service].port });
    }
    for (const ing of ingresses) {
      const a = (ing.metadata.annotations ?? {}) as Record<string, string>;
      const facts = {
        ingress: ing.metadata.name,
        className: ing.spec.ingressClassName,
        requestBuffering: a['nginx.ingress.kubernetes.io/proxy-request-buffering'],
        longRead: Number(a['nginx.ingress.kubernetes.io/proxy-read-timeout']) >= 600,
        longSend: Number(a['nginx.ingress.kubernetes.io/proxy-send-timeout']) >= 600,
        tlsCoversHost: (ing.spec.tls ?? []).some((t: { hosts?: string[] }) => t.hosts?.includes(host!)),
      };
      expect(facts).toEqual({ ingress: ing.metadata.name, className: 'nginx', requestBuffering: 'off', longRead: true, longSend: true, tlsCoversHost: true });
    }
    // The gateway's Ingress takes any body: the gateway enforces MAX_UPLOAD_BYTES itself.
    const gatewayIngress = ingresses.find((i) => (i.spec.rules ?? []).some((r: { http: { paths: { backend: { service: { name: string } } }[] } }) => r.http.paths.some((p) => p.backend.service.name === 'gateway')))!;
    const bodySize = gatewayIngress.metadata.annotations?.['nginx.ingress.kubernetes.io/proxy-body-size'];
    const bodyLimit = bodySize === '0' ? Infinity : quantity(String(bodySize).replace(/([kmg])$/i, (u) => ({ k: 'Ki', m: 'Mi', g: 'Gi' })[u.toLowerCase() as 'k']!));
    expect(bodyLimit).toBeGreaterThanOrEqual(Number(config?.data?.MAX_UPLOAD_BYTES ?? 100 * 2 ** 30));
    // Socket.IO's polling fallback needs every request of a session on one notifier pod.
    const socketIngress = ingresses.find((i) => (i.spec.rules ?? []).some((r: { http: { paths: { path: string }[] } }) => r.http.paths.some((p) => p.path.startsWith('/socket.io'))))!;
    expect(socketIngress.metadata.annotations?.['nginx.ingress.kubernetes.io/affinity']).toBe('cookie');
    expect(gatewayIngress.metadata.annotations?.['nginx.ingress.kubernetes.io/affinity']).toBeUndefined();
  });

  it('lets exactly the processes that connect to Redis and PostgreSQL reach them, and nothing else', () => {
    const redis = { 'app.kubernetes.io/name': 'redis' };
    const postgresql = { 'app.kubernetes.io/name': 'postgresql' };
    const policies = ofKind(objs, 'NetworkPolicy');
    expect(policies.some((p) => selects(p.spec.podSelector, redis))).toBe(true);
    expect(policies.some((p) => selects(p.spec.podSelector, postgresql))).toBe(true);
    // No policy isolates a Tessera pod by accident.
    for (const w of workloads) for (const p of policies) expect({ policy: p.metadata.name, selects: w.metadata.name, hit: selects(p.spec.podSelector, podLabels(w)) }).toEqual({ policy: p.metadata.name, selects: w.metadata.name, hit: false });
    for (const w of workloads) {
      const { vars } = resolveEnv(objs, podSpec(w).containers[0]!);
      const facts = {
        workload: w.metadata.name,
        redis: allowed(objs, podLabels(w), redis, 6379),
        postgresql: allowed(objs, podLabels(w), postgresql, 5432),
      };
      // Who needs what follows from the connection strings each process is given.
      expect(facts).toEqual({ workload: w.metadata.name, redis: vars.has('REDIS_URL'), postgresql: vars.has('DATABASE_URL') });
    }
    const stranger = { 'app.kubernetes.io/name': 'something-else' };
    expect(allowed(objs, stranger, redis, 6379)).toBe(false);
    expect(allowed(objs, stranger, postgresql, 5432)).toBe(false);
    // KEDA's operator reads the chunks wait list from another namespace.
    const kedaPeer = policies
      .filter((p) => selects(p.spec.podSelector, redis))
      .flatMap((p) => p.spec.ingress ?? [])
      .flatMap((r: { from?: { namespaceSelector?: LabelSelector; podSelector?: LabelSelector }[] }) => r.from ?? [])
      .find((peer: { namespaceSelector?: LabelSelector; podSelector?: LabelSelector }) => peer.namespaceSelector && selects(peer.podSelector, { 'app.kubernetes.io/name': 'keda-operator' }));
    expect(kedaPeer).toBeDefined();
  });

  it('runs the migrate Job to completion, never restarting it forever', () => {
    const job = ofKind(objs, 'Job')[0]!;
    expect(['Never', 'OnFailure']).toContain(podSpec(job).restartPolicy);
    expect(job.spec.backoffLimit).toBeGreaterThan(0);
    expect(job.spec.activeDeadlineSeconds).toBeGreaterThan(0);
  });

  it('runs one image in every workload', () => {
    const images = new Set(workloads.flatMap((w) => podSpec(w).containers.map((c) => c.image)));
    expect(images.size).toBe(1);
  });
});

// ---------------------------------------------------------------------------
// What the example overlay adds

describe('k8s overlay (example)', () => {
  const objs = renders.overlay;
  const config = sharedConfig(objs)!;

  it('puts every namespaced object in the namespace it creates', () => {
    const namespaces = ofKind(objs, 'Namespace');
    expect(namespaces).toHaveLength(1);
    const ns = namespaces[0]!.metadata.name;
    for (const o of objs.filter((x) => x.kind !== 'Namespace')) expect({ object: `${o.kind}/${o.metadata.name}`, namespace: o.metadata.namespace }).toEqual({ object: `${o.kind}/${o.metadata.name}`, namespace: ns });
    // The pods satisfy the restricted Pod Security Standard (checked above): enforce it.
    expect(namespaces[0]!.metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
  });

  it('pins the image to a registry and a tag', () => {
    for (const w of workloadsOf(objs)) {
      for (const c of podSpec(w).containers) {
        const image = splitImage(c.image);
        expect({ workload: w.metadata.name, registry: image.name.includes('/'), pinned: Boolean(image.digest) || (image.tag !== undefined && image.tag !== 'latest') }).toEqual({ workload: w.metadata.name, registry: true, pinned: true });
      }
    }
  });

  it('sets the public host once: Ingress, PUBLIC_URL, NOTIFIER_PUBLIC_URL and CORS_ORIGIN agree', () => {
    const host = ofKind(objs, 'Ingress')[0]!.spec.rules[0].host as string;
    expect(host).not.toMatch(/^tessera\.example\.com$/); // the base's placeholder is replaced
    const origin = `https://${host}`;
    expect(config.data?.PUBLIC_URL).toBe(origin);
    // Browsers reach the notifier through the same Ingress (/socket.io), not on port 3001.
    expect(config.data?.NOTIFIER_PUBLIC_URL).toBe(origin);
    expect(route(objs, host, '/socket.io/')?.service).toBe('notifier');
    expect(String(config.data?.CORS_ORIGIN).split(',').map((o) => o.trim())).toContain(origin);
  });

  it('uses the S3 blob store', () => {
    expect(config.data?.BLOB_STORE).toBe('s3');
    expect(config.data?.BLOB_DIR).toBeUndefined();
  });
});
