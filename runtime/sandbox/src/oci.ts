/**
 * Conversion of an OCI runtime spec (config.json, camelCase JSON) into the agent's `grpc.Spec`
 * mirror (PascalCase fields in oci.proto), as kata's `pkg/agent/protocols/grpc/utils.go` does.
 */
type Json = Record<string, unknown>;

const obj = (v: unknown): Json => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const strs = (v: unknown): string[] => arr(v).filter((x): x is string => typeof x === 'string');
const num = (v: unknown): number => (typeof v === 'number' ? v : 0);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

export function toAgentProcess(p: unknown): Json {
  const proc = obj(p);
  const user = obj(proc['user']);
  const caps = obj(proc['capabilities']);
  const box = obj(proc['consoleSize']);
  return {
    Terminal: proc['terminal'] === true,
    ConsoleSize: { Height: num(box['height']), Width: num(box['width']) },
    User: { UID: num(user['uid']), GID: num(user['gid']), AdditionalGids: arr(user['additionalGids']).map(num), Username: str(user['username']) },
    Args: strs(proc['args']),
    Env: strs(proc['env']),
    Cwd: str(proc['cwd']) || '/',
    Capabilities: { Bounding: strs(caps['bounding']), Effective: strs(caps['effective']), Inheritable: strs(caps['inheritable']), Permitted: strs(caps['permitted']), Ambient: strs(caps['ambient']) },
    Rlimits: arr(proc['rlimits']).map((r) => ({ Type: str(obj(r)['type']), Hard: num(obj(r)['hard']), Soft: num(obj(r)['soft']) })),
    NoNewPrivileges: proc['noNewPrivileges'] === true,
    ApparmorProfile: str(proc['apparmorProfile']),
    OOMScoreAdj: num(proc['oomScoreAdj']),
    SelinuxLabel: str(proc['selinuxLabel']),
  };
}

export interface AgentSpecOptions {
  /** Guest path of the container rootfs (the guest-pull mount point). */
  rootPath: string;
  /** Mounts to pass (already rewritten to guest paths). */
  mounts: Array<{ destination: string; source: string; type: string; options: string[] }>;
}

export function toAgentSpec(spec: Json, o: AgentSpecOptions): Json {
  const linux = obj(spec['linux']);
  const root = obj(spec['root']);
  return {
    Version: str(spec['ociVersion']),
    Process: toAgentProcess(spec['process']),
    Root: { Path: o.rootPath, Readonly: root['readonly'] === true },
    Hostname: str(spec['hostname']),
    Mounts: o.mounts,
    Annotations: Object.fromEntries(Object.entries(obj(spec['annotations'])).filter(([, v]) => typeof v === 'string')),
    Linux: {
      // Host namespace paths (netns of the pod, etc.) mean nothing in the guest: keep types only.
      Namespaces: arr(linux['namespaces']).map((n) => ({ Type: str(obj(n)['type']), Path: '' })).filter((n) => n.Type !== 'network'),
      MaskedPaths: strs(linux['maskedPaths']),
      ReadonlyPaths: strs(linux['readonlyPaths']),
      Sysctl: Object.fromEntries(Object.entries(obj(linux['sysctl'])).filter(([, v]) => typeof v === 'string')),
      CgroupsPath: str(linux['cgroupsPath']),
      RootfsPropagation: str(linux['rootfsPropagation']),
    },
  };
}
