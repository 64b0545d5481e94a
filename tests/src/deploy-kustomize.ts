import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';

/**
 * `kustomize build` for the subset deploy/ uses (no kustomize binary here, no maintained
 * JavaScript port): resources (files and directories), namespace, labels, images, replicas,
 * secretGenerator/configMapGenerator with disableNameSuffixHash, and patches (strategic merge
 * by name, RFC 6902 with a target). Anything else fails loudly, so a manifest using a
 * feature this renderer does not know cannot pass the tests by being ignored.
 */
export type KObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> } } & Record<string, unknown>;
type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'RuntimeClass', 'PriorityClass', 'CustomResourceDefinition', 'StorageClass', 'PersistentVolume', 'Node']);
const KNOWN_FIELDS = new Set(['apiVersion', 'kind', 'resources', 'namespace', 'labels', 'images', 'replicas', 'patches', 'secretGenerator', 'configMapGenerator', 'generatorOptions']);

export function parseYamlDocs(file: string): unknown[] {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'), { uniqueKeys: true, strict: true });
  return docs.map((d) => {
    if (d.errors.length > 0) throw new Error(`${file}: ${d.errors.map((e) => e.message).join('; ')}`);
    return d.toJS() as unknown;
  }).filter((d) => d !== null && d !== undefined);
}

const id = (o: KObject): string => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
const clone = <T>(v: T): T => structuredClone(v);
const isObj = (v: unknown): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Strategic merge (the part deploy/ needs): maps merge, null deletes, lists of named objects merge by name. */
export function strategicMerge(target: Json, patch: Json): Json {
  if (!isObj(target) || !isObj(patch)) {
    if (Array.isArray(target) && Array.isArray(patch) && [...target, ...patch].every((x) => isObj(x) && typeof x['name'] === 'string')) {
      const out = target.map((x) => clone(x));
      for (const p of patch as Array<Record<string, Json>>) {
        const i = out.findIndex((x) => (x as Record<string, Json>)['name'] === p['name']);
        if (i === -1) out.push(clone(p));
        else out[i] = strategicMerge(out[i] as Json, p);
      }
      return out;
    }
    return clone(patch);
  }
  const out: Record<string, Json> = clone(target);
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = k in out ? strategicMerge(out[k] as Json, v) : clone(v);
  }
  return out;
}

function pointer(p: string): string[] {
  if (!p.startsWith('/')) throw new Error(`JSON pointer "${p}" must start with /`);
  return p.slice(1).split('/').map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));
}

/** RFC 6902 add / replace / remove. */
export function jsonPatch(doc: Json, ops: Array<{ op: string; path: string; value?: Json }>): Json {
  const root = clone(doc);
  for (const op of ops) {
    const parts = pointer(op.path);
    const last = parts.pop() as string;
    let parent: Json = root;
    for (const p of parts) {
      parent = Array.isArray(parent) ? (parent[Number(p)] as Json) : isObj(parent) ? (parent[p] as Json) : null;
      if (parent === undefined || parent === null) throw new Error(`${op.op} ${op.path}: path does not exist`);
    }
    if (Array.isArray(parent)) {
      const i = last === '-' ? parent.length : Number(last);
      if (!Number.isInteger(i) || i < 0 || i > parent.length || (op.op !== 'add' && i >= parent.length)) throw new Error(`${op.op} ${op.path}: bad index`);
      if (op.op === 'add') parent.splice(i, 0, clone(op.value as Json));
      else if (op.op === 'replace') parent[i] = clone(op.value as Json);
      else if (op.op === 'remove') parent.splice(i, 1);
      else throw new Error(`unsupported op ${op.op}`);
    } else if (isObj(parent)) {
      if (op.op !== 'add' && !(last in parent)) throw new Error(`${op.op} ${op.path}: path does not exist`);
      if (op.op === 'add' || op.op === 'replace') parent[last] = clone(op.value as Json);
      else if (op.op === 'remove') delete parent[last];
      else throw new Error(`unsupported op ${op.op}`);
    } else throw new Error(`${op.op} ${op.path}: parent is not a container`);
  }
  return root;
}

function podSpecs(o: KObject): Array<Record<string, Json>> {
  const spec = o['spec'] as Record<string, Json> | undefined;
  const tpl = spec?.['template'] as Record<string, Json> | undefined;
  const pod = (o.kind === 'Pod' ? spec : (tpl?.['spec'] as Record<string, Json> | undefined)) ?? undefined;
  return pod ? [pod] : [];
}

function generate(dir: string, kind: 'Secret' | 'ConfigMap', g: Record<string, unknown>, hashOff: boolean): KObject {
  if (!hashOff) throw new Error(`${dir}: generators need generatorOptions.disableNameSuffixHash: true here (name hashing is not rendered)`);
  const data: Record<string, string> = {};
  const read = (f: string): string => {
    const file = path.join(dir, f);
    if (!existsSync(file)) throw new Error(`${dir}: ${kind} generator ${String(g['name'])}: missing file ${f}`);
    return readFileSync(file, 'utf8');
  };
  for (const f of (g['files'] as string[] | undefined) ?? []) {
    const [key, file] = f.includes('=') ? (f.split('=', 2) as [string, string]) : [path.basename(f), f];
    data[key] = read(file);
  }
  for (const l of (g['literals'] as string[] | undefined) ?? []) data[l.slice(0, l.indexOf('='))] = l.slice(l.indexOf('=') + 1);
  for (const e of (g['envs'] as string[] | undefined) ?? []) {
    for (const line of read(e).split('\n')) if (line.trim() && !line.trim().startsWith('#')) data[line.slice(0, line.indexOf('=')).trim()] = line.slice(line.indexOf('=') + 1);
  }
  const metadata = { name: String(g['name']), ...(g['namespace'] ? { namespace: String(g['namespace']) } : {}) };
  if (kind === 'ConfigMap') return { apiVersion: 'v1', kind, metadata, data };
  const b64 = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
  return { apiVersion: 'v1', kind, metadata, type: String(g['type'] ?? 'Opaque'), data: b64 };
}

/** Renders the kustomization in `dir` (kustomization.yaml) to a list of objects. */
export function kustomizeBuild(dir: string): KObject[] {
  const file = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'].map((f) => path.join(dir, f)).find((f) => existsSync(f));
  if (file === undefined) throw new Error(`${dir}: no kustomization.yaml`);
  const k = parseYamlDocs(file)[0] as Record<string, unknown>;
  for (const key of Object.keys(k)) if (!KNOWN_FIELDS.has(key)) throw new Error(`${file}: field "${key}" is not supported by this renderer`);
  let objs: KObject[] = [];
  for (const r of (k['resources'] as string[] | undefined) ?? []) {
    const p = path.join(dir, r);
    objs.push(...(statSync(p).isDirectory() ? kustomizeBuild(p) : (parseYamlDocs(p) as KObject[])));
  }
  const hashOff = (k['generatorOptions'] as Record<string, unknown> | undefined)?.['disableNameSuffixHash'] === true;
  for (const g of (k['secretGenerator'] as Array<Record<string, unknown>> | undefined) ?? []) objs.push(generate(dir, 'Secret', g, hashOff));
  for (const g of (k['configMapGenerator'] as Array<Record<string, unknown>> | undefined) ?? []) objs.push(generate(dir, 'ConfigMap', g, hashOff));

  for (const p of (k['patches'] as Array<Record<string, unknown>> | undefined) ?? []) {
    const docs = p['path'] ? parseYamlDocs(path.join(dir, String(p['path']))) : parseYamlDocs0(String(p['patch']));
    const target = p['target'] as { kind?: string; name?: string } | undefined;
    const patch = docs[0];
    const matches = (o: KObject, kind?: string, name?: string): boolean => (!kind || o.kind === kind) && (!name || o.metadata.name === name);
    if (Array.isArray(patch)) {
      if (!target) throw new Error(`${file}: a JSON 6902 patch needs a target`);
      const hit = objs.filter((o) => matches(o, target.kind, target.name));
      if (hit.length === 0) throw new Error(`${file}: patch target ${target.kind}/${target.name} matches nothing`);
      objs = objs.map((o) => (hit.includes(o) ? (jsonPatch(o as unknown as Json, patch as never) as unknown as KObject) : o));
    } else {
      const sp = patch as KObject;
      const hit = objs.filter((o) => matches(o, target?.kind ?? sp.kind, target?.name ?? sp.metadata.name));
      if (hit.length === 0) throw new Error(`${file}: strategic merge patch ${sp.kind}/${sp.metadata.name} matches nothing`);
      objs = objs.map((o) => (hit.includes(o) ? (strategicMerge(o as unknown as Json, sp as unknown as Json) as unknown as KObject) : o));
    }
  }
  for (const r of (k['replicas'] as Array<{ name: string; count: number }> | undefined) ?? []) {
    const hit = objs.filter((o) => ['Deployment', 'StatefulSet', 'ReplicaSet'].includes(o.kind) && o.metadata.name === r.name);
    if (hit.length === 0) throw new Error(`${file}: replicas for ${r.name} match nothing`);
    for (const o of hit) (o['spec'] as Record<string, unknown>)['replicas'] = r.count;
  }
  for (const img of (k['images'] as Array<{ name: string; newName?: string; newTag?: string; digest?: string }> | undefined) ?? []) {
    for (const o of objs) for (const spec of podSpecs(o)) {
      for (const c of [...((spec['containers'] as Array<Record<string, Json>>) ?? []), ...((spec['initContainers'] as Array<Record<string, Json>>) ?? [])]) {
        const ref = String(c['image']);
        const name = ref.replace(/@.*$/, '').replace(/:[^:/]+$/, '');
        if (name !== img.name) continue;
        const tag = img.digest ? `@${img.digest}` : img.newTag ? `:${img.newTag}` : ref.slice(name.length);
        c['image'] = `${img.newName ?? name}${tag}`;
      }
    }
  }
  const ns = k['namespace'] as string | undefined;
  if (ns) for (const o of objs) if (!CLUSTER_SCOPED.has(o.kind)) o.metadata.namespace = ns;
  for (const l of (k['labels'] as Array<{ pairs: Record<string, string>; includeSelectors?: boolean; includeTemplates?: boolean }> | undefined) ?? []) {
    if (l.includeSelectors || l.includeTemplates) throw new Error(`${file}: labels.includeSelectors/includeTemplates are not supported by this renderer`);
    for (const o of objs) {
      o.metadata.labels = { ...(o.metadata.labels ?? {}), ...l.pairs };
    }
  }
  const seen = new Set<string>();
  for (const o of objs) {
    if (seen.has(id(o))) throw new Error(`${file}: duplicate resource ${id(o)}`);
    seen.add(id(o));
  }
  return objs;
}

function parseYamlDocs0(text: string): unknown[] {
  const docs = parseAllDocuments(text, { uniqueKeys: true, strict: true });
  return docs.map((d) => {
    if (d.errors.length > 0) throw new Error(d.errors.map((e) => e.message).join('; '));
    return d.toJS() as unknown;
  });
}
