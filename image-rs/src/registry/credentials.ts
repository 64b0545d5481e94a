import { Redacted } from '@kata-cc/log';
import { imgError } from '../errors.js';

/** A username/password pair for one registry; the password never prints. */
export interface Credentials {
  username: string;
  password: Redacted<string>;
}

/** A parsed containers/docker `auth.json`: `{"auths":{"<host[/path]>":{"auth":"b64(user:pass)"}}}`. */
export interface AuthFile {
  auths: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
}

/** Parses the JSON of an auth.json; throws IMG_OPTION_INVALID without echoing its content. */
export function parseAuthFile(json: string | Uint8Array): AuthFile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof json === 'string' ? json : Buffer.from(json).toString('utf8'));
  } catch {
    throw imgError('IMG_OPTION_INVALID', 'Invalid auth.json: not JSON');
  }
  const auths = (parsed as { auths?: unknown } | null)?.auths;
  if (typeof auths !== 'object' || auths === null) throw imgError('IMG_OPTION_INVALID', 'Invalid auth.json: missing "auths" object');
  return { auths: auths as AuthFile['auths'] };
}

function normalizeKey(key: string): string {
  const k = key.replace(/^https?:\/\//, '').replace(/\/+$/, '');
  // Docker CLI writes docker.io credentials under its legacy v1 index URL.
  if (k === 'index.docker.io/v1' || k === 'index.docker.io' || k === 'registry-1.docker.io') return 'docker.io';
  return k;
}

/**
 * The credentials for `registry/repository`, matched by the longest key that is the repository
 * itself, one of its parent namespaces, or the registry (containers-auth.json semantics).
 */
export function credentialsFor(file: AuthFile | undefined, registry: string, repository: string): Credentials | undefined {
  if (file === undefined) return undefined;
  const target = `${registry}/${repository}`;
  let best: { len: number; entry: AuthFile['auths'][string] } | undefined;
  for (const [key, entry] of Object.entries(file.auths)) {
    const k = normalizeKey(key);
    if (target === k || target.startsWith(`${k}/`)) {
      if (best === undefined || k.length > best.len) best = { len: k.length, entry };
    }
  }
  if (best === undefined) return undefined;
  const { entry } = best;
  if (typeof entry.auth === 'string' && entry.auth !== '') {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw imgError('IMG_OPTION_INVALID', `Invalid auth.json entry for "${registry}": "auth" is not base64(user:password)`);
    return { username: decoded.slice(0, colon), password: new Redacted(decoded.slice(colon + 1)) };
  }
  if (typeof entry.username === 'string' && typeof entry.password === 'string') {
    return { username: entry.username, password: new Redacted(entry.password) };
  }
  return undefined;
}
