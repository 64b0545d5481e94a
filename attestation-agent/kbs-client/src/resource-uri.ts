import { kbcError } from './errors.js';

/** A KBS resource location (guest-components `ResourceUri`). */
export interface ResourceUri {
  /** `resource` for `kbs://`, `<name>` for `kbs+<name>://`. */
  plugin: string;
  /** Path segments after the host, e.g. `['default', 'key', '1']`. */
  segments: string[];
  /** The raw query string without `?`, if any. */
  query: string | undefined;
}

const SEGMENT = /^[a-zA-Z0-9_-]+[a-zA-Z0-9_.-]*$/;
const PLUGIN = /^[a-z][a-z0-9_-]*$/;
const HINT = 'should be kbs://<addr-of-kbs>/<repo>/<type>/<tag>';

/**
 * Parses `kbs:///repo/type/tag`, `kbs+plugin://host/a/b?q` or a bare `repo/type/tag`.
 * Host and port are ignored (the KBS URL comes from configuration), as in guest-components.
 */
export function parseResourceUri(input: string): ResourceUri {
  let plugin = 'resource';
  let rest = input;
  let query: string | undefined;
  const scheme = /^kbs(?:\+([^:]+))?:\/\/([^/]*)(\/.*)?$/.exec(input);
  if (scheme !== null) {
    if (scheme[1] !== undefined && scheme[1] !== 'resource') plugin = scheme[1];
    rest = scheme[3] ?? '';
  } else if (input.includes('://')) {
    throw kbcError('KBC_INVALID_RESOURCE_URI', `Invalid kbs resource uri "${input}": the scheme must be kbs, ${HINT}`);
  }
  const q = rest.indexOf('?');
  if (q >= 0) {
    query = rest.slice(q + 1);
    rest = rest.slice(0, q);
  }
  // Legacy double prefix (`kbs:///kbs:///default/key/1`, seen in guest-components test data).
  if (rest.startsWith('/kbs:///')) return parseResourceUri(rest.slice(1) + (query === undefined ? '' : `?${query}`));
  const segments = rest.replace(/^\//, '').split('/');
  // SECURITY: each segment is a plain name, so no `..`, empty segment or encoded slash can
  // redirect the request to another KBS endpoint.
  if (!PLUGIN.test(plugin) || segments.some((s) => !SEGMENT.test(s)) || (plugin === 'resource' && segments.length !== 3)) {
    throw kbcError('KBC_INVALID_RESOURCE_URI', `Invalid kbs resource uri "${input}", ${HINT}`);
  }
  return { plugin, segments, query };
}

/** The KBS API path of a resource: `/kbs/v0/<plugin>/<segments...>[?query]`. */
export function resourceApiPath(uri: ResourceUri): string {
  return `/kbs/v0/${uri.plugin}/${uri.segments.join('/')}${uri.query === undefined ? '' : `?${uri.query}`}`;
}

/** The canonical text form, `kbs:///repo/type/tag`. */
export function formatResourceUri(uri: ResourceUri): string {
  const scheme = uri.plugin === 'resource' ? 'kbs' : `kbs+${uri.plugin}`;
  return `${scheme}:///${uri.segments.join('/')}${uri.query === undefined ? '' : `?${uri.query}`}`;
}
