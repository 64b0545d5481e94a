import { KccError } from '@kata-cc/errors';

export interface KbsPath {
  /** First segment after `/kbs/v0/`: `auth`, `attest`, `resource`, ... */
  plugin: string;
  rest: string[];
  query: Record<string, string>;
}

function invalid(message: string): KccError {
  return new KccError({ kind: 'NOT_FOUND', code: 'KBS_INVALID_REQUEST_PATH', message, details: { variant: 'InvalidRequestPath' } });
}

/**
 * Splits the RAW request URL (before any decoding) under `/kbs/v0/`.
 * SECURITY: encoded separators (`%2F`, `%5C`), NUL, `.`/`..` segments and empty segments are
 * refused here, once, so no storage key or later path join can escape its namespace.
 */
export function parseKbsPath(rawUrl: string): KbsPath {
  const q = rawUrl.indexOf('?');
  const rawPath = q === -1 ? rawUrl : rawUrl.slice(0, q);
  const prefix = '/kbs/v0/';
  if (!rawPath.startsWith(prefix)) throw invalid('The path must start with /kbs/v0/');
  const segments = rawPath.slice(prefix.length).split('/');
  const decoded: string[] = [];
  for (const seg of segments) {
    if (seg === '') throw invalid('The path has an empty segment');
    if (/%(2f|5c|00)/i.test(seg)) throw invalid('The path has an encoded separator or NUL');
    let d: string;
    try {
      d = decodeURIComponent(seg);
    } catch {
      throw invalid('The path has a malformed percent-encoding');
    }
    if (d === '.' || d === '..') throw invalid('The path has a "." or ".." segment');
    if (d.includes('\\')) throw invalid('The path has a backslash');
    decoded.push(d);
  }
  const [plugin, ...rest] = decoded as [string, ...string[]];
  const query: Record<string, string> = {};
  if (q !== -1) for (const [k, v] of new URLSearchParams(rawUrl.slice(q + 1))) query[k] = v;
  return { plugin, rest, query };
}

const RESOURCE_SEGMENT = /^[a-zA-Z0-9_-]+[a-zA-Z0-9_.-]*$/;

/** `<repo>/<type>/<tag>`, each matching trustee's resource id pattern. */
export function resourcePath(rest: string[]): [string, string, string] {
  if (rest.length !== 3) throw invalid('A resource path is exactly <repository>/<type>/<tag>');
  for (const s of rest) if (!RESOURCE_SEGMENT.test(s)) throw invalid(`Invalid resource path segment ${JSON.stringify(s)}`);
  return rest as [string, string, string];
}
