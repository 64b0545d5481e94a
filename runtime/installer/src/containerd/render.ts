import { POD_ANNOTATIONS, RUNTIME_TYPE, type HandlerSpec } from '../handlers.js';

/**
 * containerd configuration schema: 1 (`plugins.cri`, containerd 1.x legacy), 2 (containerd
 * 1.6/1.7, `plugins."io.containerd.grpc.v1.cri"`), 3 (containerd 2.x, CRI split into
 * `io.containerd.cri.v1.runtime` and `.images`; files saying version 4 use the same IDs).
 */
export type ConfigSchema = 1 | 2 | 3;

/** The TOML table that holds CRI runtime handlers for a schema. */
export function runtimesTable(schema: ConfigSchema): string {
  switch (schema) {
    case 1:
      return 'plugins.cri.containerd.runtimes';
    case 2:
      return 'plugins."io.containerd.grpc.v1.cri".containerd.runtimes';
    case 3:
      return 'plugins."io.containerd.cri.v1.runtime".containerd.runtimes';
  }
}

/** The parsed path of that table, for conflict checks on a parsed configuration. */
export function runtimesPath(schema: ConfigSchema): string[] {
  switch (schema) {
    case 1:
      return ['plugins', 'cri', 'containerd', 'runtimes'];
    case 2:
      return ['plugins', 'io.containerd.grpc.v1.cri', 'containerd', 'runtimes'];
    case 3:
      return ['plugins', 'io.containerd.cri.v1.runtime', 'containerd', 'runtimes'];
  }
}

const str = (s: string): string => JSON.stringify(s); // a JSON string is a valid TOML basic string

/**
 * The handler tables. `runtime_path` pins our shim (containerd would otherwise search PATH
 * for containerd-shim-kata-cc-v2); `options.ConfigPath` reaches the shim as
 * runtimeoptions.v1.Options.config_path; no `cri_handler` (that was the CoCo containerd fork).
 */
export function renderHandlers(schema: ConfigSchema, specs: readonly HandlerSpec[], shimPath: string, snapshotter: string | null = null): string {
  const table = runtimesTable(schema);
  const out: string[] = [];
  for (const spec of specs) {
    out.push(
      `[${table}.${spec.name}]`,
      `  runtime_type = ${str(RUNTIME_TYPE)}`,
      `  runtime_path = ${str(shimPath)}`,
      // Per-handler CRI snapshotter: containerd 1.7+ (schema 2) and 2.x (schema 3); 1.6 ignores it.
      ...(snapshotter === null || schema === 1 ? [] : [`  snapshotter = ${str(snapshotter)}`]),
      `  privileged_without_host_devices = true`,
      `  pod_annotations = [${POD_ANNOTATIONS.map(str).join(', ')}]`,
      `  [${table}.${spec.name}.options]`,
      `    ConfigPath = ${str(spec.configPath)}`,
    );
  }
  return out.join('\n') + '\n';
}

/** The guest-pull snapshotter as a containerd proxy plugin (same table in every schema). */
export function renderProxyPlugin(name: string, socket: string): string {
  return `[proxy_plugins.${str(name)}]\n  type = "snapshot"\n  address = ${str(socket)}\n`;
}

/** containerd 1.6/1.7's global CRI snapshotter table (schema 2). */
export const CRI_CONTAINERD_TABLE = 'plugins."io.containerd.grpc.v1.cri".containerd';
