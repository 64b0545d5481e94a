import { installerError } from './errors.js';
import { prefixPaths } from './layout.js';

/** The runtime handlers (= RuntimeClass names) the installer registers with containerd. */
export const HANDLER_NAMES = ['kata-cc', 'kata-cc-tdx', 'kata-cc-snp', 'kata-cc-se', 'kata-cc-dev'] as const;
export type HandlerName = (typeof HANDLER_NAMES)[number];

/** TEE a handler's configuration targets; `auto` is the node's detected TEE. */
export type HandlerTee = 'auto' | 'tdx' | 'snp' | 'se' | 'none';

export interface HandlerSpec {
  readonly name: HandlerName;
  readonly tee: HandlerTee;
  /** Host path of the shim configuration (containerd passes it as `options.ConfigPath`). */
  readonly configPath: string;
  /** File name of that configuration inside the payload's share/defaults/kata-cc/. */
  readonly configFile: string;
}

/** containerd derives the shim binary name from this; runtime_path pins the exact file. */
export const RUNTIME_TYPE = 'io.containerd.kata-cc.v2';
/** Pod annotations containerd forwards to the shim (initdata, kernel params, policy). */
export const POD_ANNOTATIONS = ['io.katacontainers.*'] as const;

function teeOf(name: HandlerName): HandlerTee {
  switch (name) {
    case 'kata-cc':
      return 'auto';
    case 'kata-cc-tdx':
      return 'tdx';
    case 'kata-cc-snp':
      return 'snp';
    case 'kata-cc-se':
      return 'se';
    case 'kata-cc-dev':
      return 'none';
  }
}

/** The configuration file name for a handler: `configuration.toml` for the auto handler. */
export function configFileOf(name: HandlerName): string {
  const tee = teeOf(name);
  return tee === 'auto' ? 'configuration.toml' : `configuration-${tee === 'none' ? 'dev' : tee}.toml`;
}

export function handlerSpecs(prefix: string, names: readonly HandlerName[] = HANDLER_NAMES): HandlerSpec[] {
  const { configDir } = prefixPaths(prefix);
  return names.map((name) => ({ name, tee: teeOf(name), configFile: configFileOf(name), configPath: `${configDir}/${configFileOf(name)}` }));
}

/** Parses `--handlers a,b`; rejects unknown names so a typo never registers nothing. */
export function parseHandlerList(value: string): HandlerName[] {
  const names = value.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  const known = new Set<string>(HANDLER_NAMES);
  const bad = names.filter((n) => !known.has(n));
  if (bad.length > 0 || names.length === 0) {
    throw installerError('INST_BAD_ARGUMENT', `Unknown runtime handler(s) ${JSON.stringify(bad)}; known: ${HANDLER_NAMES.join(', ')}`);
  }
  return [...new Set(names)] as HandlerName[];
}
