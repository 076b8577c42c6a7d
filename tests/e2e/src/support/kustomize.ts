// A small `kustomize build`, for the checks on k8s/ in CI (no kustomize or kubectl binary
// there). It implements only what Tessera's kustomizations use, with kustomize's
// semantics, and refuses anything else loudly, so a new feature in a kustomization fails
// the tests until it is implemented here rather than being silently ignored:
//
//   resources    files (one or more YAML documents) and directories with a kustomization.yaml
//   namespace    metadata.namespace of every namespaced object; Namespace objects are renamed
//                to it, as kustomize does
//   labels       pairs added to metadata.labels (+ pod templates with includeTemplates);
//                includeSelectors: true is refused (it rewrites immutable selectors)
//   images       newName / newTag / digest of matching container images
//   patches      strategic merge (the target is the patch's own kind and name, or `target`)
//                with the merge keys of the built-in lists (containers, env, volumes, ports,
//                volumeMounts, ...) and the `$patch: delete|replace` directives; JSON 6902
//                (add, remove, replace, test) with a `target`
//
// Order, as kustomize: resources, then patches, namespace, labels, images.
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

export class KustomizeError extends Error {
  override name = 'KustomizeError';
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const SUPPORTED_FIELDS = new Set(['apiVersion', 'kind', 'resources', 'namespace', 'labels', 'images', 'patches']);

/** Kinds without a namespace (kustomize leaves metadata.namespace off them). */
const CLUSTER_SCOPED = new Set([
  'Namespace', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition', 'PersistentVolume', 'StorageClass',
  'PriorityClass', 'IngressClass', 'ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration', 'APIService',
  'ClusterTriggerAuthentication',
]);

/**
 * Kinds whose namespace kustomize also writes elsewhere in the object (role binding subjects,
 * webhook services, ...): not implemented, so refused.
 */
const NAMESPACE_REFERENCING = new Set(['RoleBinding', 'ClusterRoleBinding', 'ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration', 'APIService', 'CustomResourceDefinition']);

/** API groups whose kinds kustomize knows the schema of (strategic merge keys apply); others are custom resources. */
const BUILTIN_GROUPS = new Set(['', 'apps', 'batch', 'policy', 'autoscaling', 'networking.k8s.io', 'rbac.authorization.k8s.io', 'storage.k8s.io', 'scheduling.k8s.io']);

/** Where pod templates live, per kind. */
const POD_SPEC_PATHS: Record<string, string[][]> = {
  Pod: [['spec']],
  Deployment: [['spec', 'template', 'spec']],
  StatefulSet: [['spec', 'template', 'spec']],
  DaemonSet: [['spec', 'template', 'spec']],
  ReplicaSet: [['spec', 'template', 'spec']],
  Job: [['spec', 'template', 'spec']],
  CronJob: [['spec', 'jobTemplate', 'spec', 'template', 'spec']],
};

const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);
const clone = <T>(value: T): T => structuredClone(value);
const groupOf = (apiVersion: string) => (apiVersion.includes('/') ? apiVersion.split('/')[0]! : '');
const versionOf = (apiVersion: string) => apiVersion.split('/').at(-1)!;
const idOf = (o: K8sObject) => `${o.apiVersion} ${o.kind} ${o.metadata.namespace ?? '~'}/${o.metadata.name}`;

// ---------------------------------------------------------------------------
// Entry point

/** Renders the kustomization in `dir` (a folder holding kustomization.yaml) like `kustomize build dir`. */
export function kustomizeBuild(dir: string): K8sObject[] {
  return build(path.resolve(dir), []);
}

function build(dir: string, stack: string[]): K8sObject[] {
  if (stack.includes(dir)) throw new KustomizeError(`kustomization cycle: ${[...stack, dir].join(' -> ')}`);
  const file = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'].map((f) => path.join(dir, f)).find((f) => existsSync(f));
  if (!file) throw new KustomizeError(`${dir}: no kustomization.yaml`);
  const k = loadYaml(file);
  if (k.length !== 1 || !isObject(k[0])) throw new KustomizeError(`${file}: expected one YAML mapping`);
  const kustomization = k[0];
  const unsupported = Object.keys(kustomization).filter((key) => !SUPPORTED_FIELDS.has(key));
  if (unsupported.length > 0) {
    throw new KustomizeError(`${file}: unsupported kustomization field(s) ${unsupported.join(', ')}; this renderer supports only ${[...SUPPORTED_FIELDS].join(', ')} (extend tests/e2e/src/support/kustomize.ts)`);
  }
  if (kustomization.kind !== undefined && kustomization.kind !== 'Kustomization') throw new KustomizeError(`${file}: kind ${String(kustomization.kind)} is not supported (only Kustomization)`);

  let objects: K8sObject[] = [];
  for (const entry of listOf(kustomization.resources, `${file}: resources`)) {
    if (typeof entry !== 'string') throw new KustomizeError(`${file}: a resource must be a path, got ${JSON.stringify(entry)}`);
    if (/^[a-z]+:\/\//i.test(entry) || entry.startsWith('git@')) throw new KustomizeError(`${file}: remote resource ${entry} is not supported`);
    const target = path.resolve(dir, entry);
    if (!existsSync(target)) throw new KustomizeError(`${file}: resource ${entry} does not exist`);
    const loaded = statSync(target).isDirectory() ? build(target, [...stack, dir]) : loadObjects(target);
    objects.push(...loaded);
  }
  assertUnique(objects, file);

  for (const [i, entry] of listOf(kustomization.patches, `${file}: patches`).entries()) objects = applyPatch(objects, entry, dir, `${file}: patches[${i}]`);
  if (kustomization.namespace !== undefined) setNamespace(objects, kustomization.namespace, file);
  for (const [i, entry] of listOf(kustomization.labels, `${file}: labels`).entries()) addLabels(objects, entry, `${file}: labels[${i}]`);
  for (const [i, entry] of listOf(kustomization.images, `${file}: images`).entries()) setImages(objects, entry, `${file}: images[${i}]`);
  assertUnique(objects, file);
  return objects;
}

function listOf(value: Json | undefined, where: string): Json[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new KustomizeError(`${where} must be a list`);
  return value;
}

function loadYaml(file: string): Json[] {
  return parseAllDocuments(readFileSync(file, 'utf8')).flatMap((doc) => {
    if (doc.errors.length > 0) throw new KustomizeError(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value = doc.toJS() as Json;
    return value === null || value === undefined ? [] : [value];
  });
}

function loadObjects(file: string): K8sObject[] {
  return loadYaml(file).map((doc, i) => {
    if (!isObject(doc) || typeof doc.apiVersion !== 'string' || typeof doc.kind !== 'string' || !isObject(doc.metadata) || typeof doc.metadata.name !== 'string') {
      throw new KustomizeError(`${file}: document ${i + 1} is not a Kubernetes object with apiVersion, kind and metadata.name`);
    }
    if (doc.kind === 'List') throw new KustomizeError(`${file}: List objects are not supported`);
    if (NAMESPACE_REFERENCING.has(doc.kind)) throw new KustomizeError(`${file}: ${doc.kind} is not supported (kustomize rewrites namespaces inside it)`);
    return doc as unknown as K8sObject;
  });
}

function assertUnique(objects: K8sObject[], file: string): void {
  const seen = new Set<string>();
  for (const o of objects) {
    const id = idOf(o);
    if (seen.has(id)) throw new KustomizeError(`${file}: ${id} is defined more than once`);
    seen.add(id);
  }
}

// ---------------------------------------------------------------------------
// namespace, labels, images

function setNamespace(objects: K8sObject[], namespace: Json, file: string): void {
  if (typeof namespace !== 'string' || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(namespace)) throw new KustomizeError(`${file}: namespace must be a DNS label, got ${JSON.stringify(namespace)}`);
  for (const o of objects) {
    if (o.kind === 'Namespace') o.metadata.name = namespace;
    else if (!CLUSTER_SCOPED.has(o.kind)) o.metadata.namespace = namespace;
  }
}

function addLabels(objects: K8sObject[], entry: Json, where: string): void {
  if (!isObject(entry)) throw new KustomizeError(`${where} must be a mapping`);
  const unknown = Object.keys(entry).filter((k) => !['pairs', 'includeSelectors', 'includeTemplates'].includes(k));
  if (unknown.length > 0) throw new KustomizeError(`${where}: unsupported field(s) ${unknown.join(', ')}`);
  if (entry.includeSelectors === true) throw new KustomizeError(`${where}: includeSelectors: true is not supported (it rewrites immutable selectors; use includeTemplates)`);
  const pairs = entry.pairs;
  if (!isObject(pairs) || Object.values(pairs).some((v) => typeof v !== 'string')) throw new KustomizeError(`${where}: pairs must map label names to strings`);
  for (const o of objects) {
    o.metadata.labels = { ...(o.metadata.labels ?? {}), ...(pairs as Record<string, string>) };
    if (entry.includeTemplates === true) {
      for (const specPath of POD_SPEC_PATHS[o.kind] ?? []) {
        const template = getPath(o as unknown as JsonObject, specPath.slice(0, -1));
        if (!isObject(template)) continue;
        const metadata = (isObject(template.metadata) ? template.metadata : (template.metadata = {})) as JsonObject;
        metadata.labels = { ...((metadata.labels as JsonObject | undefined) ?? {}), ...pairs };
      }
    }
  }
}

/** `registry:5000/team/app:1.2@sha256:…` → name, tag, digest. */
export function splitImage(image: string): { name: string; tag?: string; digest?: string } {
  const [withoutDigest, digest] = image.split('@') as [string, string | undefined];
  const slash = withoutDigest.lastIndexOf('/');
  const colon = withoutDigest.lastIndexOf(':');
  const hasTag = colon > slash;
  return {
    name: hasTag ? withoutDigest.slice(0, colon) : withoutDigest,
    ...(hasTag ? { tag: withoutDigest.slice(colon + 1) } : {}),
    ...(digest !== undefined ? { digest } : {}),
  };
}

function setImages(objects: K8sObject[], entry: Json, where: string): void {
  if (!isObject(entry)) throw new KustomizeError(`${where} must be a mapping`);
  const unknown = Object.keys(entry).filter((k) => !['name', 'newName', 'newTag', 'digest'].includes(k));
  if (unknown.length > 0) throw new KustomizeError(`${where}: unsupported field(s) ${unknown.join(', ')}`);
  const { name, newName, newTag, digest } = entry;
  if (typeof name !== 'string') throw new KustomizeError(`${where}: name is required`);
  for (const field of [newName, newTag, digest]) if (field !== undefined && typeof field !== 'string') throw new KustomizeError(`${where}: newName, newTag and digest must be strings (quote numeric tags)`);
  for (const o of objects) {
    for (const specPath of POD_SPEC_PATHS[o.kind] ?? []) {
      const spec = getPath(o as unknown as JsonObject, specPath);
      if (!isObject(spec)) continue;
      for (const list of ['initContainers', 'containers']) {
        for (const c of (spec[list] as JsonObject[] | undefined) ?? []) {
          if (typeof c.image !== 'string') continue;
          const current = splitImage(c.image);
          if (current.name !== name) continue;
          let image = (newName as string | undefined) ?? current.name;
          if (digest !== undefined) image += `@${digest as string}`;
          else if (newTag !== undefined) image += `:${newTag as string}`;
          else image += `${current.tag !== undefined ? `:${current.tag}` : ''}${current.digest !== undefined ? `@${current.digest}` : ''}`;
          c.image = image;
        }
      }
    }
  }
}

function getPath(root: JsonObject, keys: string[]): Json | undefined {
  let node: Json | undefined = root;
  for (const key of keys) node = isObject(node) ? node[key] : undefined;
  return node;
}

// ---------------------------------------------------------------------------
// patches

interface Target {
  group?: string;
  version?: string;
  kind?: string;
  name?: string;
  namespace?: string;
}

function applyPatch(objects: K8sObject[], entry: Json, dir: string, where: string): K8sObject[] {
  if (!isObject(entry)) throw new KustomizeError(`${where} must be a mapping`);
  const unknown = Object.keys(entry).filter((k) => !['path', 'patch', 'target'].includes(k));
  if (unknown.length > 0) throw new KustomizeError(`${where}: unsupported field(s) ${unknown.join(', ')}`);
  if ((entry.path === undefined) === (entry.patch === undefined)) throw new KustomizeError(`${where}: give exactly one of path and patch`);
  let docs: Json[];
  if (typeof entry.path === 'string') {
    const file = path.resolve(dir, entry.path);
    if (!existsSync(file)) throw new KustomizeError(`${where}: ${entry.path} does not exist`);
    docs = loadYaml(file);
  } else if (typeof entry.patch === 'string') {
    docs = parseAllDocuments(entry.patch).map((d) => {
      if (d.errors.length > 0) throw new KustomizeError(`${where}: ${d.errors.map((e) => e.message).join('; ')}`);
      return d.toJS() as Json;
    });
  } else {
    throw new KustomizeError(`${where}: path and patch must be strings`);
  }
  if (docs.length !== 1) throw new KustomizeError(`${where}: a patch must be exactly one YAML document (got ${docs.length})`);
  const patch = docs[0]!;
  const target = entry.target === undefined ? undefined : parseTarget(entry.target, where);

  if (Array.isArray(patch)) {
    if (!target) throw new KustomizeError(`${where}: a JSON 6902 patch needs a target`);
    const matched = objects.filter((o) => matches(o, target));
    if (matched.length === 0) throw new KustomizeError(`${where}: target ${JSON.stringify(target)} matches no object`);
    return objects.map((o) => (matched.includes(o) ? applyJson6902(o, patch, where) : o));
  }
  if (!isObject(patch)) throw new KustomizeError(`${where}: a patch is a mapping (strategic merge) or a list (JSON 6902)`);
  const self = patch as Partial<K8sObject> & JsonObject;
  const selector: Target = target ?? {
    group: typeof self.apiVersion === 'string' ? groupOf(self.apiVersion) : undefined,
    version: typeof self.apiVersion === 'string' ? versionOf(self.apiVersion) : undefined,
    kind: typeof self.kind === 'string' ? self.kind : undefined,
    name: isObject(self.metadata) && typeof self.metadata.name === 'string' ? self.metadata.name : undefined,
  };
  if (!selector.kind || !selector.name) throw new KustomizeError(`${where}: a strategic merge patch needs kind and metadata.name (or a target)`);
  const matched = objects.filter((o) => matches(o, selector));
  if (matched.length === 0) throw new KustomizeError(`${where}: no object matches ${selector.kind} ${selector.name}`);
  if (!target && matched.length > 1) throw new KustomizeError(`${where}: ${selector.kind} ${selector.name} matches ${matched.length} objects`);
  const result: K8sObject[] = [];
  for (const o of objects) {
    if (!matched.includes(o)) {
      result.push(o);
      continue;
    }
    if (self.$patch === 'delete') continue;
    const body = clone(self) as JsonObject;
    // The patch's identity fields only select; with a target they must not rename anything.
    delete body.apiVersion;
    delete body.kind;
    if (isObject(body.metadata)) {
      delete body.metadata.name;
      delete body.metadata.namespace;
    }
    const builtin = BUILTIN_GROUPS.has(groupOf(o.apiVersion));
    result.push(strategicMerge(clone(o) as unknown as JsonObject, body, [o.kind], builtin, where) as unknown as K8sObject);
  }
  return result;
}

function parseTarget(value: Json, where: string): Target {
  if (!isObject(value)) throw new KustomizeError(`${where}: target must be a mapping`);
  const allowed = ['group', 'version', 'kind', 'name', 'namespace'];
  const unknown = Object.keys(value).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) throw new KustomizeError(`${where}: unsupported target field(s) ${unknown.join(', ')} (only ${allowed.join(', ')})`);
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw new KustomizeError(`${where}: target.${k} must be a string`);
    // kustomize reads name and namespace as regular expressions; only plain names are supported here.
    if ((k === 'name' || k === 'namespace') && /[\\^$.*+?()[\]{}|]/.test(v)) throw new KustomizeError(`${where}: target.${k} "${v}" is a pattern; only exact names are supported`);
  }
  if (!value.kind) throw new KustomizeError(`${where}: target.kind is required here`);
  return value as Target;
}

function matches(o: K8sObject, t: Target): boolean {
  return (
    (t.kind === undefined || o.kind === t.kind) &&
    (t.name === undefined || o.metadata.name === t.name) &&
    (t.namespace === undefined || o.metadata.namespace === t.namespace) &&
    (t.group === undefined || groupOf(o.apiVersion) === t.group) &&
    (t.version === undefined || versionOf(o.apiVersion) === t.version)
  );
}

/**
 * The merge key of a list in a built-in kind (`patchMergeKey` in the Kubernetes API), by
 * field name and, where one name has several meanings, by where it sits. Lists without
 * one (envFrom, args, rules, tolerations, metrics, ...) are replaced whole, as kustomize does.
 */
function mergeKeyOf(fieldPath: string[]): string | undefined {
  const field = fieldPath.at(-1)!;
  const parent = fieldPath.at(-2);
  switch (field) {
    case 'containers':
    case 'initContainers':
    case 'ephemeralContainers':
    case 'volumes':
    case 'env':
    case 'imagePullSecrets':
      return 'name';
    case 'volumeMounts':
      return 'mountPath';
    case 'volumeDevices':
      return 'devicePath';
    case 'ports':
      // Container ports merge on containerPort, a Service's on port.
      return fieldPath[0] === 'Service' && parent === 'spec' ? 'port' : 'containerPort';
    default:
      return undefined;
  }
}

function strategicMerge(base: Json | undefined, patch: Json, fieldPath: string[], builtin: boolean, where: string): Json {
  if (!isObject(patch)) return clone(patch);
  const directive = patch.$patch;
  if (directive !== undefined && directive !== 'replace' && directive !== 'merge') {
    throw new KustomizeError(`${where}: $patch: ${String(directive)} at ${fieldPath.join('.')} is not supported here`);
  }
  const body = { ...patch };
  delete body.$patch;
  for (const key of Object.keys(body)) {
    if (key.startsWith('$')) throw new KustomizeError(`${where}: directive ${key} at ${fieldPath.join('.')} is not supported`);
  }
  if (directive === 'replace' || !isObject(base)) return stripDirectives(body, fieldPath, where);
  const result: JsonObject = { ...base };
  for (const [key, value] of Object.entries(body)) {
    const childPath = [...fieldPath, key];
    if (value === null) delete result[key];
    else if (Array.isArray(value)) result[key] = mergeList(result[key], value, childPath, builtin, where);
    else if (isObject(value)) result[key] = strategicMerge(result[key], value, childPath, builtin, where);
    else result[key] = value;
  }
  return result;
}

function mergeList(base: Json | undefined, patch: Json[], fieldPath: string[], builtin: boolean, where: string): Json {
  const key = builtin ? mergeKeyOf(fieldPath) : undefined;
  if (!key || !Array.isArray(base)) {
    if (!key && patch.some((item) => isObject(item) && item.$patch !== undefined)) {
      throw new KustomizeError(`${where}: $patch inside ${fieldPath.join('.')}, a list without a merge key (it is replaced whole)`);
    }
    return patch.map((item) => stripDirectives(item, fieldPath, where));
  }
  const result = [...base];
  for (const item of patch) {
    if (!isObject(item) || item[key] === undefined) throw new KustomizeError(`${where}: every item of ${fieldPath.join('.')} needs its merge key ${key}`);
    const index = result.findIndex((existing) => isObject(existing) && existing[key] === item[key]);
    if (item.$patch === 'delete') {
      if (index < 0) throw new KustomizeError(`${where}: ${fieldPath.join('.')} has no item ${key}=${String(item[key])} to delete`);
      result.splice(index, 1);
    } else if (index >= 0) {
      result[index] = strategicMerge(result[index], item, fieldPath, builtin, where);
    } else {
      result.push(stripDirectives(item, fieldPath, where));
    }
  }
  return result;
}

function stripDirectives(value: Json, fieldPath: string[], where: string): Json {
  if (Array.isArray(value)) return value.map((v) => stripDirectives(v, fieldPath, where));
  if (!isObject(value)) return value;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(value)) {
    if (k === '$patch') {
      if (v === 'delete') throw new KustomizeError(`${where}: $patch: delete at ${fieldPath.join('.')} deletes nothing that exists`);
      continue;
    }
    if (k.startsWith('$')) throw new KustomizeError(`${where}: directive ${k} at ${fieldPath.join('.')} is not supported`);
    if (v !== null) out[k] = stripDirectives(v, [...fieldPath, k], where);
  }
  return out;
}

// ---------------------------------------------------------------------------
// JSON 6902

function pointer(p: Json, where: string): string[] {
  if (typeof p !== 'string' || !p.startsWith('/')) throw new KustomizeError(`${where}: path ${JSON.stringify(p)} is not a JSON pointer`);
  return p.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function applyJson6902(object: K8sObject, ops: Json[], where: string): K8sObject {
  const doc = clone(object) as unknown as JsonObject;
  for (const [i, op] of ops.entries()) {
    const at = `${where} op ${i}`;
    if (!isObject(op)) throw new KustomizeError(`${at}: not a mapping`);
    const keys = pointer(op.path ?? null, at);
    const last = keys.at(-1)!;
    let parent: Json = doc;
    for (const k of keys.slice(0, -1)) {
      const next: Json | undefined = Array.isArray(parent) ? parent[arrayIndex(k, parent.length - 1, at)] : isObject(parent) ? parent[k] : undefined;
      if (next === undefined) throw new KustomizeError(`${at}: ${String(op.path)} does not exist in ${object.kind} ${object.metadata.name}`);
      parent = next;
    }
    const exists = Array.isArray(parent) ? last !== '-' && Number(last) < parent.length : isObject(parent) && last in parent;
    switch (op.op) {
      case 'add':
        if (op.value === undefined) throw new KustomizeError(`${at}: add needs a value`);
        if (Array.isArray(parent)) parent.splice(last === '-' ? parent.length : arrayIndex(last, parent.length, at), 0, clone(op.value));
        else if (isObject(parent)) parent[last] = clone(op.value);
        else throw new KustomizeError(`${at}: cannot add under a scalar`);
        break;
      case 'replace':
      case 'remove':
      case 'test': {
        if (!exists) throw new KustomizeError(`${at}: ${String(op.path)} does not exist in ${object.kind} ${object.metadata.name}`);
        const container = parent as Json[] | JsonObject;
        const slot = Array.isArray(container) ? arrayIndex(last, container.length - 1, at) : last;
        if (op.op === 'test') {
          const current = (container as Record<string | number, Json>)[slot];
          if (JSON.stringify(current) !== JSON.stringify(op.value)) throw new KustomizeError(`${at}: test failed at ${String(op.path)}`);
        } else if (op.op === 'replace') {
          if (op.value === undefined) throw new KustomizeError(`${at}: replace needs a value`);
          (container as Record<string | number, Json>)[slot] = clone(op.value);
        } else if (Array.isArray(container)) container.splice(slot as number, 1);
        else delete container[slot as string];
        break;
      }
      default:
        throw new KustomizeError(`${at}: op ${JSON.stringify(op.op)} is not supported (add, remove, replace, test)`);
    }
  }
  return doc as unknown as K8sObject;
}

function arrayIndex(segment: string, max: number, where: string): number {
  if (!/^(0|[1-9]\d*)$/.test(segment) || Number(segment) > max) throw new KustomizeError(`${where}: ${segment} is not a valid index here`);
  return Number(segment);
}
