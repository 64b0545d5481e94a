/**
 * kata's agent protos carry the OCI runtime spec as a protobuf mirror with PascalCase field
 * names (`Process.Args`, `Linux.UIDMappings`, `OOMScoreAdj`). runc reads the JSON spec
 * (camelCase). This converts one into the other: keys are re-cased, proto3 default values
 * (empty strings, zeros, empty lists) are dropped, map keys (annotations, sysctls) are kept.
 */

/** Map-valued fields whose keys are data, not field names. */
const MAP_FIELDS = new Set(['Annotations', 'Sysctl', 'Unified', 'annotations', 'sysctl', 'unified']);

/** Field names whose OCI JSON spelling the re-casing rule does not produce. */
const SPECIAL: Record<string, string> = {
  Pagesize: 'pageSize',
  HostID: 'hostID',
  ContainerID: 'containerID',
  ClassID: 'classID',
};

/** `UID` -> `uid`, `OOMScoreAdj` -> `oomScoreAdj`, `UIDMappings` -> `uidMappings`, `Args` -> `args`. */
export function ociKey(key: string): string {
  const special = SPECIAL[key];
  if (special) return special;
  const m = /^([A-Z0-9]+)(.*)$/.exec(key);
  if (!m) return key;
  const caps = m[1] ?? '';
  const rest = m[2] ?? '';
  if (rest === '') return caps.toLowerCase();
  if (caps.length === 1) return caps.toLowerCase() + rest;
  return caps.slice(0, -1).toLowerCase() + caps.slice(-1) + rest;
}

function isEmpty(v: unknown): boolean {
  return v === undefined || v === null || v === '' || v === 0 || v === false
    || (Array.isArray(v) && v.length === 0)
    || (typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v) && Object.keys(v as object).length === 0);
}

/** Converts a decoded proto Spec (or any part of it: Process, LinuxResources) to OCI JSON. */
export function protoToOci(value: unknown, keepKeys = false): unknown {
  if (Array.isArray(value)) return value.map((v) => protoToOci(v));
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const converted = MAP_FIELDS.has(k) ? { ...(v as Record<string, unknown>) } : protoToOci(v);
    if (isEmpty(converted) && !keepZero(k)) continue;
    out[keepKeys ? k : ociKey(k)] = converted;
  }
  return out;
}

/** Zero is meaningful for these (uid/gid 0 are root; a namespace type is never empty). */
function keepZero(key: string): boolean {
  return key === 'UID' || key === 'GID';
}

export interface OciSpec {
  ociVersion?: string;
  process?: Record<string, unknown> & { args?: string[]; env?: string[]; cwd?: string; terminal?: boolean; user?: Record<string, unknown> };
  root?: { path: string; readonly?: boolean };
  hostname?: string;
  mounts?: { destination: string; source?: string; type?: string; options?: string[] }[];
  annotations?: Record<string, string>;
  linux?: Record<string, unknown> & { namespaces?: { type: string; path?: string }[]; cgroupsPath?: string; resources?: Record<string, unknown> };
  [k: string]: unknown;
}

/** Guest-side kernel filesystems every container gets when the spec omits them. */
const DEFAULT_MOUNTS = [
  { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
  { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
  { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'] },
  { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
  { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
  { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
];

/**
 * Makes a spec from the host runnable in the guest: the rootfs is the guest-pulled one, host
 * namespace paths mean nothing here (containers share the VM's network, as in kata), host bind
 * mounts whose source is not in the guest are dropped, cgroups go under /kata_cc/<id>.
 */
export function guestSpec(spec: OciSpec, containerId: string, rootfs: string, existsInGuest: (p: string) => boolean): { spec: OciSpec; dropped: string[] } {
  const out: OciSpec = structuredClone(spec);
  if (typeof out['version'] === 'string') { out.ociVersion = out['version']; delete out['version']; }
  out.ociVersion ??= '1.0.2';
  out.root = { path: rootfs, readonly: spec.root?.readonly === true };
  const dropped: string[] = [];
  const mounts = (out.mounts ?? []).filter((m) => {
    const bind = m.type === 'bind' || (m.options ?? []).some((o) => o === 'bind' || o === 'rbind');
    if (bind && (!m.source || !existsInGuest(m.source))) { dropped.push(m.destination); return false; }
    return true;
  });
  for (const d of DEFAULT_MOUNTS) if (!mounts.some((m) => m.destination === d.destination)) mounts.push(d);
  out.mounts = mounts;
  out.linux ??= {};
  const ns = (out.linux.namespaces ?? [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }])
    .filter((n) => n.type !== 'network')
    .map((n) => ({ type: n.type }));
  if (!ns.some((n) => n.type === 'mount')) ns.push({ type: 'mount' });
  out.linux.namespaces = ns;
  // runc removes the leaf cgroup when the container exits; its parent stays, so the
  // (hierarchical) memory.events there still shows an OOM kill after the process is gone.
  out.linux.cgroupsPath = `/kata_cc/${containerId}/ctr`;
  // Seccomp profiles from the host reference the host's libseccomp features; runc in the guest
  // applies them when present. Hooks would run guest binaries named by the host: never.
  delete out['hooks'];
  out.process ??= {};
  out.process.cwd ||= '/';
  return { spec: out, dropped };
}
