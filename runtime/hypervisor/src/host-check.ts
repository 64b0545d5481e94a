/**
 * Host capability probes for `kata-cc check` (kata `availableGuestProtection`, kata-ctl `env`):
 * the same sysfs/procfs files kata reads, plus QEMU's own answer about KVM and its objects.
 * Every failed check says how to fix it.
 */
import { execFile, spawn } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import type { TeeProfile } from './config.js';

export interface CheckResult {
  id: string;
  title: string;
  ok: boolean;
  /** What was found (version, path, value). */
  detail: string;
  /** How to fix it when `ok` is false. */
  fix?: string;
  /** Profiles that need this check to pass. */
  requiredFor: TeeProfile[];
}

export interface HostProbe {
  readFile(path: string): string | undefined;
  exists(path: string): boolean;
  /** `qemu -version` and `-object help` text, or undefined when QEMU cannot run. */
  qemuInfo(binary: string): Promise<{ version: string; objects: string } | undefined>;
  /** Whether QEMU can initialise KVM (a real VM create, not just an open of /dev/kvm). */
  kvmWorks(binary: string): Promise<{ ok: boolean; error: string }>;
}

const run = promisify(execFile);

export const realHostProbe: HostProbe = {
  readFile: (p) => { try { return readFileSync(p, 'utf8'); } catch { return undefined; } },
  exists: (p) => existsSync(p),
  qemuInfo: async (binary) => {
    try {
      const v = await run(binary, ['-version'], { timeout: 10_000 });
      const o = await run(binary, ['-object', 'help'], { timeout: 10_000 });
      return { version: v.stdout.split('\n')[0] ?? '', objects: o.stdout };
    } catch {
      return undefined;
    }
  },
  kvmWorks: (binary) => new Promise((resolve) => {
    try { accessSync('/dev/kvm', constants.R_OK | constants.W_OK); } catch (e) { resolve({ ok: false, error: `/dev/kvm: ${(e as Error).message}` }); return; }
    // A real vCPU run (firmware, no disk): broken or nested-less KVM fails within a second
    // (e.g. "failed to set MSR"), while opening /dev/kvm alone would succeed. Alive after 1.5 s = works.
    const child = spawn(binary, ['-machine', 'q35,accel=kvm', '-cpu', 'host', '-nodefaults', '-display', 'none', '-monitor', 'none', '-serial', 'none', '-no-reboot'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const t = setTimeout(() => { child.kill('SIGKILL'); resolve({ ok: true, error: '' }); }, 1500);
    child.on('exit', () => { clearTimeout(t); resolve({ ok: false, error: err.trim().split('\n')[0] ?? 'QEMU exited' }); });
    child.on('error', (e) => { clearTimeout(t); resolve({ ok: false, error: e.message }); });
  }),
};

/** Parses "QEMU emulator version 7.2.19 (…)" into [major, minor]. */
export function qemuVersion(text: string): [number, number] | undefined {
  const m = /version (\d+)\.(\d+)/.exec(text);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

const atLeast = (v: [number, number] | undefined, major: number, minor: number): boolean => v !== undefined && (v[0] > major || (v[0] === major && v[1] >= minor));

export interface CheckOptions {
  qemu: string;
  firmware: { tdx: string; snp: string };
  /** containerd's configuration file, to see whether the kata-cc handler is registered. */
  containerdConfig: string;
  /** The shim must be on containerd's PATH. */
  pathEnv: string;
}

export async function checkHost(o: CheckOptions, probe: HostProbe = realHostProbe): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  const add = (r: CheckResult): void => { out.push(r); };
  const kvm = await probe.kvmWorks(o.qemu);
  add({ id: 'kvm', title: 'KVM usable', ok: kvm.ok, detail: kvm.ok ? '/dev/kvm creates VMs' : kvm.error, requiredFor: ['tdx', 'snp', 'se'],
    ...(kvm.ok ? {} : { fix: 'enable virtualization in the BIOS, load kvm_intel/kvm_amd, give this user access to /dev/kvm; in a VM enable nested virtualization. Profile "none" still runs with accel = "tcg" (slow)' }) });
  const tdx = probe.readFile('/sys/module/kvm_intel/parameters/tdx')?.trim().startsWith('Y') === true;
  add({ id: 'tdx', title: 'Intel TDX enabled in KVM', ok: tdx, detail: tdx ? 'kvm_intel.tdx=Y' : '/sys/module/kvm_intel/parameters/tdx is not Y', requiredFor: ['tdx'],
    ...(tdx ? {} : { fix: 'TDX host kernel (Linux 6.16+), BIOS TME-MT + TDX on, then: modprobe -r kvm_intel && modprobe kvm_intel tdx=1' }) });
  const snp = probe.readFile('/sys/module/kvm_amd/parameters/sev_snp')?.trim().startsWith('Y') === true;
  add({ id: 'snp', title: 'AMD SEV-SNP enabled in KVM', ok: snp, detail: snp ? 'kvm_amd.sev_snp=Y' : '/sys/module/kvm_amd/parameters/sev_snp is not Y', requiredFor: ['snp'],
    ...(snp ? {} : { fix: 'Linux 6.11+, SNP enabled in the BIOS, then: modprobe -r kvm_amd && modprobe kvm_amd sev_snp=1 (check with snphost ok)' }) });
  const cpuinfo = probe.readFile('/proc/cpuinfo') ?? '';
  const cmdline = probe.readFile('/proc/cmdline') ?? '';
  const se = /facilities\s*:.*\b158\b/.test(cpuinfo) && /\bprot_virt=(1|on|y|yes)\b/.test(cmdline);
  add({ id: 'se', title: 'IBM Secure Execution host', ok: se, detail: se ? 'facility 158 and prot_virt on' : 'no facility 158 or prot_virt not set', requiredFor: ['se'],
    ...(se ? {} : { fix: 'an IBM z15+/LinuxONE III+ with the SE feature; boot the host with prot_virt=1' }) });
  for (const [id, file] of [['tdx', o.firmware.tdx], ['snp', o.firmware.snp]] as const) {
    const ok = probe.exists(file);
    add({ id: `firmware-${id}`, title: `${id.toUpperCase()} firmware`, ok, detail: file, requiredFor: [id],
      ...(ok ? {} : { fix: `install the ${id === 'tdx' ? 'OVMF.inteltdx.fd (edk2 IntelTdxX64)' : 'AMDSEV.fd (edk2 AmdSevX64)'} build and set hypervisor.qemu.firmware` }) });
  }
  const q = await probe.qemuInfo(o.qemu);
  const v = q ? qemuVersion(q.version) : undefined;
  add({ id: 'qemu', title: 'QEMU present', ok: q !== undefined, detail: q?.version ?? `${o.qemu} does not run`, requiredFor: ['tdx', 'snp', 'se', 'none'],
    ...(q ? {} : { fix: 'apt-get install qemu-system-x86 (or set hypervisor.qemu.path)' }) });
  const tdxObj = q !== undefined && /\btdx-guest\b/.test(q.objects) && atLeast(v, 10, 1);
  add({ id: 'qemu-tdx', title: 'QEMU supports tdx-guest (>= 10.1)', ok: tdxObj, detail: q ? `${q.version}; tdx-guest ${/\btdx-guest\b/.test(q.objects) ? 'listed' : 'missing'}` : 'no QEMU', requiredFor: ['tdx'],
    ...(tdxObj ? {} : { fix: 'QEMU 10.1 or newer built with TDX (kata ships one in /opt/kata/bin)' }) });
  const snpObj = q !== undefined && /\bsev-snp-guest\b/.test(q.objects) && atLeast(v, 9, 1);
  add({ id: 'qemu-snp', title: 'QEMU supports sev-snp-guest (>= 9.1)', ok: snpObj, detail: q ? `${q.version}; sev-snp-guest ${/\bsev-snp-guest\b/.test(q.objects) ? 'listed' : 'missing'}` : 'no QEMU', requiredFor: ['snp'],
    ...(snpObj ? {} : { fix: 'QEMU 9.1 or newer (kata ships one in /opt/kata/bin)' }) });
  const vsock = probe.exists('/dev/vhost-vsock');
  add({ id: 'vhost-vsock', title: 'vhost-vsock for the agent channel', ok: vsock, detail: vsock ? '/dev/vhost-vsock' : 'no /dev/vhost-vsock', requiredFor: [],
    ...(vsock ? {} : { fix: 'modprobe vhost_vsock; until then set agent_channel = "virtio-serial"' }) });
  const ctdCfg = probe.readFile(o.containerdConfig);
  const handler = ctdCfg !== undefined && /runtime_type\s*=\s*["']io\.containerd\.kata-cc\.v2["']/.test(ctdCfg);
  add({ id: 'containerd', title: 'containerd has a kata-cc runtime handler', ok: handler, detail: ctdCfg === undefined ? `${o.containerdConfig} not found` : handler ? `${o.containerdConfig}: io.containerd.kata-cc.v2` : `${o.containerdConfig}: no io.containerd.kata-cc.v2 runtime`, requiredFor: [],
    ...(handler ? {} : { fix: 'run the kata-cc installer, or add [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.kata-cc] runtime_type = "io.containerd.kata-cc.v2" and restart containerd' }) });
  const shim = o.pathEnv.split(':').some((d) => d && probe.exists(`${d}/containerd-shim-kata-cc-v2`));
  add({ id: 'shim', title: 'containerd-shim-kata-cc-v2 on PATH', ok: shim, detail: shim ? 'found' : 'not on PATH', requiredFor: [],
    ...(shim ? {} : { fix: 'link runtime/shim/bin/containerd-shim-kata-cc-v2.js as /usr/local/bin/containerd-shim-kata-cc-v2 (the installer does this)' }) });
  return out;
}
