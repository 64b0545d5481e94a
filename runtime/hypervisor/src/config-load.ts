import { readFileSync } from 'node:fs';
import { parse as parseToml } from 'smol-toml';
import { KccError } from '@kata-cc/errors';
import { TEE_PROFILES, type GuestForward, type HypervisorConfig, type QemuConfig, type RuntimeConfig, type TeeProfile, type VerityParams } from './config.js';

type Table = Record<string, unknown>;

const invalid = (key: string, why: string): KccError =>
  new KccError({ kind: 'INVALID_ARGUMENT', code: 'HV_CONFIG_INVALID', message: `Invalid configuration key "${key}": ${why}`, details: { key } });

/** Reads typed keys of one table and rejects any key it was not asked about. */
class Reader {
  readonly #table: Table;
  readonly #prefix: string;
  readonly #seen = new Set<string>();
  constructor(table: Table, prefix: string) {
    this.#table = table;
    this.#prefix = prefix;
  }
  #get(key: string): unknown {
    this.#seen.add(key);
    return this.#table[key];
  }
  name(key: string): string {
    return `${this.#prefix}.${key}`;
  }
  str(key: string, def?: string): string {
    const v = this.#get(key);
    if (v === undefined) {
      if (def === undefined) throw new KccError({ kind: 'INVALID_ARGUMENT', code: 'HV_CONFIG_MISSING', message: `Missing configuration key "${this.name(key)}"`, details: { key: this.name(key) } });
      return def;
    }
    if (typeof v !== 'string') throw invalid(this.name(key), `expected a string, got ${typeof v}`);
    return v;
  }
  optStr(key: string): string | undefined {
    const v = this.str(key, '');
    return v === '' ? undefined : v;
  }
  int(key: string, def: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.#get(key);
    if (v === undefined) return def;
    const n = typeof v === 'bigint' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n)) throw invalid(this.name(key), 'expected an integer');
    if (n < min || n > max) throw invalid(this.name(key), `expected ${min}..${max}, got ${n}`);
    return n;
  }
  bool(key: string, def: boolean): boolean {
    const v = this.#get(key);
    if (v === undefined) return def;
    if (typeof v !== 'boolean') throw invalid(this.name(key), 'expected true or false');
    return v;
  }
  strList(key: string, def: string[]): string[] {
    const v = this.#get(key);
    if (v === undefined) return def;
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw invalid(this.name(key), 'expected a list of strings');
    return v as string[];
  }
  oneOf<T extends string>(key: string, allowed: readonly T[], def: T): T {
    const v = this.str(key, def);
    if (!(allowed as readonly string[]).includes(v)) throw invalid(this.name(key), `expected one of ${allowed.join(', ')}, got "${v}"`);
    return v as T;
  }
  /** Call last: unknown keys are typos or unsupported settings, never silently ignored. */
  done(): void {
    for (const k of Object.keys(this.#table)) {
      if (!this.#seen.has(k)) {
        throw new KccError({ kind: 'INVALID_ARGUMENT', code: 'HV_CONFIG_UNKNOWN_KEY', message: `Unknown configuration key "${this.name(k)}"`, details: { key: this.name(k) } });
      }
    }
  }
}

function table(parent: Table, key: string, prefix: string): Table | undefined {
  const v = parent[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalid(prefix ? `${prefix}.${key}` : key, 'expected a table');
  return v as Table;
}

/** kata's `root_hash=…,salt=…,data_blocks=…,data_block_size=…,hash_block_size=…` (+ our `hash_offset`). */
export function parseVerityParams(text: string, key = 'kernel_verity_params'): VerityParams {
  const kv = new Map<string, string>();
  for (const part of text.split(',')) {
    const [k, v] = part.split('=', 2);
    if (!k || v === undefined) throw invalid(key, `"${part}" is not key=value`);
    kv.set(k.trim(), v.trim());
  }
  const num = (k: string): number => {
    const n = Number(kv.get(k));
    if (!Number.isInteger(n) || n <= 0) throw invalid(key, `${k} must be a positive integer`);
    return n;
  };
  const rootHash = kv.get('root_hash') ?? '';
  if (!/^[0-9a-f]{64}$/.test(rootHash)) throw invalid(key, 'root_hash must be 64 lowercase hex digits (sha256)');
  const salt = kv.get('salt') ?? '';
  if (!/^([0-9a-f]{2})*$/.test(salt)) throw invalid(key, 'salt must be hex');
  const out: VerityParams = { rootHash, salt: salt || '-', dataBlocks: num('data_blocks'), dataBlockSize: num('data_block_size'), hashBlockSize: num('hash_block_size') };
  if (kv.has('hash_offset')) out.hashOffset = num('hash_offset');
  for (const k of kv.keys()) if (!['root_hash', 'salt', 'data_blocks', 'data_block_size', 'hash_block_size', 'hash_offset'].includes(k)) throw invalid(key, `unknown field "${k}"`);
  return out;
}

const DEFAULT_ANNOTATIONS = ['enable_iommu', 'kernel_params', 'kernel_verity_params', 'default_vcpus', 'default_memory', 'cc_init_data'];

function parseForwards(r: Reader): GuestForward[] {
  return r.strList('guest_forwards', []).map((s) => {
    // "10.0.2.100:5000=127.0.0.1:5000": the guest dials the left side, QEMU connects to the right
    const m = /^(\d+\.\d+\.\d+\.\d+):(\d+)=([\w.-]+):(\d+)$/.exec(s);
    if (!m) throw invalid(r.name('guest_forwards'), `"${s}" is not GUEST_IP:PORT=HOST:PORT`);
    return { guestAddress: m[1] as string, guestPort: Number(m[2]), hostAddress: m[3] as string, hostPort: Number(m[4]) };
  });
}

function parseQemu(t: Table): QemuConfig {
  const r = new Reader(t, 'hypervisor.qemu');
  const profile = r.oneOf<TeeProfile>('tee', TEE_PROFILES, 'none');
  const accel = r.oneOf('accel', ['kvm', 'tcg'] as const, 'kvm');
  const cfg: QemuConfig = {
    type: 'qemu',
    profile,
    path: r.str('path', profile === 'se' ? 'qemu-system-s390x' : 'qemu-system-x86_64'),
    kernel: r.str('kernel'),
    machineType: r.str('machine_type', profile === 'se' ? 's390-ccw-virtio' : 'q35'),
    accel,
    cpuFeatures: r.str('cpu_features', profile === 'se' ? '' : 'pmu=off'),
    vcpus: r.int('default_vcpus', 1, 1, 256),
    memoryMiB: r.int('default_memory', 2048, 128, 1 << 20),
    kernelParams: r.str('kernel_params', '').split(/\s+/).filter(Boolean),
    rootfsType: r.str('rootfs_type', 'ext4'),
    snp: {
      policy: r.int('snp_guest_policy', 0x30000, 0, 0xffffffffffff),
      cbitpos: r.int('snp_cbitpos', 51, 32, 63),
      reducedPhysBits: r.int('snp_reduced_phys_bits', 1, 0, 63),
    },
    tdx: { qgsPort: r.int('tdx_quote_generation_service_socket_port', 0, 0, 65535), qgsSocket: r.str('tdx_quote_generation_service_socket', '/var/run/tdx-qgs/qgs.socket') },
    agentChannel: r.oneOf('agent_channel', ['vsock', 'virtio-serial'] as const, 'vsock'),
    network: r.oneOf('network', ['none', 'user'] as const, 'user'),
    guestForwards: [],
    enableAnnotations: r.strList('enable_annotations', DEFAULT_ANNOTATIONS),
    debug: r.bool('enable_debug', false),
  };
  cfg.guestForwards = parseForwards(r);
  const opt = (k: string, set: (v: string) => void): void => { const v = r.optStr(k); if (v !== undefined) set(v); };
  opt('initrd', (v) => { cfg.initrd = v; });
  opt('image', (v) => { cfg.image = v; });
  opt('firmware', (v) => { cfg.firmware = v; });
  opt('cpu_model', (v) => { cfg.cpuModel = v; });
  opt('kernel_verity_params', (v) => { cfg.verity = parseVerityParams(v, 'hypervisor.qemu.kernel_verity_params'); });
  opt('snp_id_block', (v) => { cfg.snp.idBlock = v; });
  opt('snp_id_auth', (v) => { cfg.snp.idAuth = v; });
  r.bool('confidential_guest', profile !== 'none'); // accepted for kata compatibility; `tee` decides
  r.bool('sev_snp_guest', profile === 'snp');
  r.done();
  // Cross-key rules (kata errors the same way at sandbox creation).
  if (accel === 'tcg' && profile !== 'none') throw invalid('hypervisor.qemu.accel', `"tcg" cannot run a ${profile} guest: TEEs need KVM`);
  if ((profile === 'tdx' || profile === 'snp') && cfg.firmware === undefined) throw invalid('hypervisor.qemu.firmware', `the ${profile} profile needs its OVMF build (e.g. ${profile === 'tdx' ? 'OVMF.inteltdx.fd' : 'AMDSEV.fd'})`);
  if ((cfg.snp.idBlock === undefined) !== (cfg.snp.idAuth === undefined)) throw invalid('hypervisor.qemu.snp_id_block', 'snp_id_block and snp_id_auth must be set together');
  if (profile === 'se' && !cfg.machineType.startsWith('s390-ccw-virtio')) throw invalid('hypervisor.qemu.machine_type', 'the se profile runs on s390-ccw-virtio');
  if (profile !== 'se' && cfg.machineType.startsWith('s390')) throw invalid('hypervisor.qemu.machine_type', `"${cfg.machineType}" is only valid with tee = "se"`);
  return cfg;
}

function parseFake(t: Table): HypervisorConfig {
  const r = new Reader(t, 'hypervisor.fake');
  const cfg: HypervisorConfig = {
    type: 'fake',
    profile: r.oneOf<TeeProfile>('tee', TEE_PROFILES, 'none'),
    guestCommand: r.strList('guest_command', []),
    vcpus: r.int('default_vcpus', 1, 1, 256),
    memoryMiB: r.int('default_memory', 256, 1, 1 << 20),
    kernelParams: r.str('kernel_params', '').split(/\s+/).filter(Boolean),
    enableAnnotations: r.strList('enable_annotations', DEFAULT_ANNOTATIONS),
  };
  r.done();
  return cfg;
}

/** Validates a parsed TOML document; every error names the offending key. */
export function parseConfig(doc: Table): RuntimeConfig {
  for (const k of Object.keys(doc)) if (!['hypervisor', 'agent', 'runtime'].includes(k)) throw new KccError({ kind: 'INVALID_ARGUMENT', code: 'HV_CONFIG_UNKNOWN_KEY', message: `Unknown configuration key "${k}"`, details: { key: k } });
  const hv = table(doc, 'hypervisor', '') ?? {};
  const kinds = Object.keys(hv);
  if (kinds.length !== 1) throw invalid('hypervisor', `expected exactly one of [hypervisor.qemu] or [hypervisor.fake], got ${kinds.length ? kinds.join(', ') : 'none'}`);
  const kind = kinds[0] as string;
  let hypervisor: HypervisorConfig;
  if (kind === 'qemu') hypervisor = parseQemu(table(hv, 'qemu', 'hypervisor') ?? {});
  else if (kind === 'fake') hypervisor = parseFake(table(hv, 'fake', 'hypervisor') ?? {});
  else throw invalid(`hypervisor.${kind}`, 'unsupported hypervisor (supported: qemu, fake)');

  const agentTables = table(doc, 'agent', '') ?? {};
  for (const k of Object.keys(agentTables)) if (k !== 'kata') throw invalid(`agent.${k}`, 'only [agent.kata] exists');
  const a = new Reader(table(agentTables, 'kata', 'agent') ?? {}, 'agent.kata');
  const agent = {
    dialTimeoutMs: a.int('dial_timeout', 60, 1, 3600) * 1000,
    requestTimeoutMs: a.int('request_timeout', 60, 1, 3600) * 1000,
    createContainerTimeoutMs: 0,
  };
  a.bool('enable_debug', false);
  a.done();
  const rt = new Reader(table(doc, 'runtime', '') ?? {}, 'runtime');
  agent.createContainerTimeoutMs = rt.int('create_container_timeout', 60, 1, 3600) * 1000;
  const runtime = { forceGuestPull: rt.bool('experimental_force_guest_pull', true), stateDir: rt.str('state_dir', '/run/kata-cc') };
  rt.bool('static_sandbox_resource_mgmt', true);
  rt.bool('enable_debug', false);
  rt.done();
  return { hypervisor, agent, runtime };
}

/** Reads and validates a configuration file. */
export function loadConfigFile(file: string): RuntimeConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new KccError({ kind: 'NOT_FOUND', code: 'HV_CONFIG_NOT_FOUND', message: `Cannot read configuration file "${file}"`, cause });
  }
  let doc: Table;
  try {
    doc = parseToml(text) as Table;
  } catch (cause) {
    throw new KccError({ kind: 'INVALID_ARGUMENT', code: 'HV_CONFIG_SYNTAX', message: `Configuration file "${file}" is not valid TOML: ${(cause as Error).message.split('\n')[0]}`, cause });
  }
  return parseConfig(doc);
}
