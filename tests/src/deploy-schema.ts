import * as k8s from '@kubernetes/client-node';

/**
 * Checks a Kubernetes object against the API schemas, as `kubectl apply --validate=strict`
 * would without a cluster: the JSON schema of its kind (kubernetes-models: required fields,
 * types, enums) and, field by field, the API model of @kubernetes/client-node (an unknown or
 * misplaced field is an error). Returns the problems, empty when the object is valid.
 */
export async function schemaErrors(obj: Record<string, unknown>): Promise<string[]> {
  const apiVersion = String(obj['apiVersion']);
  const kind = String(obj['kind']);
  const [group, version] = apiVersion.includes('/') ? (apiVersion.split('/') as [string, string]) : ['', apiVersion];
  const where = `${kind} ${String((obj['metadata'] as { name?: string } | undefined)?.name)}`;
  const errors: string[] = [];
  let Model: new (data: unknown) => { validate(): void };
  try {
    const mod = (await import(`kubernetes-models/${group ? `${group}/` : ''}${version}`)) as Record<string, unknown>;
    Model = mod[kind] as typeof Model;
    if (typeof Model !== 'function') throw new Error('no such kind');
  } catch {
    return [`${where}: ${apiVersion} ${kind} is not a Kubernetes API kind`];
  }
  try {
    new Model(obj).validate();
  } catch (err) {
    errors.push(`${where}: ${(err as Error).message}`);
  }
  const className = `${version.charAt(0).toUpperCase()}${version.slice(1)}${kind}`;
  errors.push(...strictFields(obj, className, where));
  return errors;
}

type AttrMap = Array<{ baseName: string; type: string }>;
const models = k8s as unknown as Record<string, { getAttributeTypeMap?: () => AttrMap } | undefined>;

function strictFields(value: unknown, type: string, at: string): string[] {
  if (value === null || value === undefined) return [];
  const arr = /^Array<(.+)>$/.exec(type);
  if (arr) return Array.isArray(value) ? value.flatMap((v, i) => strictFields(v, arr[1] as string, `${at}[${i}]`)) : [`${at}: expected a list`];
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) return typeof value === 'object' && !Array.isArray(value) ? Object.entries(value).flatMap(([k, v]) => strictFields(v, map[1] as string, `${at}.${k}`)) : [`${at}: expected a map`];
  switch (type) {
    case 'string':
      return typeof value === 'string' ? [] : [`${at}: expected a string, got ${JSON.stringify(value)}`];
    case 'number':
      return typeof value === 'number' ? [] : [`${at}: expected a number`];
    case 'boolean':
      return typeof value === 'boolean' ? [] : [`${at}: expected true or false`];
    case 'IntOrString':
      return typeof value === 'string' || typeof value === 'number' ? [] : [`${at}: expected an int or a string`];
    case 'Date':
    case 'any':
    case 'object':
      return [];
  }
  const attrs = models[type]?.getAttributeTypeMap?.();
  if (attrs === undefined) return [`${at}: unknown API type ${type}`];
  if (typeof value !== 'object' || Array.isArray(value)) return [`${at}: expected an object (${type})`];
  const known = new Map(attrs.map((a) => [a.baseName, a.type]));
  return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => {
    const t = known.get(k);
    return t === undefined ? [`${at}.${k}: unknown field (not in ${type})`] : strictFields(v, t, `${at}.${k}`);
  });
}
