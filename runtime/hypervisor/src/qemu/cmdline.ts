/**
 * The QEMU command line of a sandbox VM, per TEE profile, following kata's Go runtime
 * (`govmm/qemu/qemu.go`, `virtcontainers/qemu_amd64.go`, `qemu_s390x.go`) as documented in
 * ../shared/design/reference/hypervisor-tee.md. Pure: the same inputs give the same argv, and
 * the `-append` string is byte-stable so TDX/SNP launch measurements are reproducible.
 */
import path from 'node:path';
import type { QemuConfig, VerityParams } from '../config.js';
import { launchFieldDigest, type Initdata } from '../initdata.js';

/** Where the shim reaches the agent. */
export type AgentEndpoint = { kind: 'vsock'; cid: number; port: number } | { kind: 'unix'; path: string };

export interface VmSpec {
  id: string;
  uuid: string;
  /** Per-VM state directory (sockets, console log, initdata disk). */
  dir: string;
  initdata?: Initdata;
  /** Path of the initdata disk image written for this VM (required with `initdata`). */
  initdataImage?: string;
  /** vsock guest CID (vsock channel only). */
  vsockCid?: number;
  /** Host probe for the TDX QGS socket (kept injectable so the builder stays pure). */
  exists?: (file: string) => boolean;
}

export interface QemuLaunch {
  binary: string;
  args: string[];
  agent: AgentEndpoint;
  /** Files under `dir` QEMU writes. */
  files: { qmp: string; console: string; serial?: string; pid: string };
}

/** kata's amd64 kernel parameters (`qemu_amd64.go` kernelParams). */
const AMD64_PARAMS = ['tsc=reliable', 'no_timer_check', 'rcupdate.rcu_expedited=1', 'i8042.direct=1', 'i8042.dumbkbd=1', 'i8042.nopnp=1', 'i8042.noaux=1', 'noreplace-smp', 'reboot=k', 'cryptomgr.notests', 'net.ifnames=0', 'pci=lastbus=0'];
export const AGENT_VSOCK_PORT = 1024;
/** The virtio-serial port name the guest agent looks for under /sys/class/virtio-ports/ (`agent.server_addr=vport://agent.0`). */
export const AGENT_SERIAL_PORT_NAME = 'agent.0';

/** kata `GetKernelRootParams`: dm-verity via dm-mod.create, or our one-disk layout read by the initramfs. */
export function rootParams(verity: VerityParams | undefined, rootfsType: string, device = '/dev/vda'): string[] {
  const flags = rootfsType === 'ext4' ? ['rootflags=data=ordered,errors=remount-ro'] : [];
  if (verity === undefined) return [`root=${device}1`, ...flags, 'ro', `rootfstype=${rootfsType}`];
  if (verity.hashOffset !== undefined) {
    // One disk, tree appended at hash_offset; the kernel has no dm-init, so the initramfs runs
    // veritysetup with these (measured) values.
    return [`kata_cc.roothash=${verity.rootHash}`, `kata_cc.hashoffset=${verity.hashOffset}`];
  }
  const sectors = (verity.dataBlockSize / 512) * verity.dataBlocks;
  const table = `dm-verity,,,ro,0 ${sectors} verity 1 ${device}1 ${device}2 ${verity.dataBlockSize} ${verity.hashBlockSize} ${verity.dataBlocks} 0 sha256 ${verity.rootHash} ${verity.salt}`;
  return [`dm-mod.create="${table}"`, 'root=/dev/dm-0', ...flags, 'ro', `rootfstype=${rootfsType}`];
}

export function kernelCommandLine(cfg: QemuConfig, agent: AgentEndpoint): string {
  const params: string[] = [];
  if (cfg.profile !== 'se') params.push(...AMD64_PARAMS);
  // With an initramfs and no verity parameters the initramfs finds the root itself (our image
  // builder passes its kata_cc.roothash/hashoffset fragment in kernel_params).
  if (cfg.verity !== undefined || (cfg.image !== undefined && cfg.initrd === undefined)) params.push(...rootParams(cfg.verity, cfg.rootfsType));
  // `none` also gets the 8250 serial: the virtio console is a module in distro kernels, and the
  // last console= is /dev/console, so early boot and init output stay visible.
  params.push(...(cfg.profile === 'none' ? ['console=hvc0', 'console=ttyS0'] : ['console=hvc0', 'console=hvc1']));
  params.push(cfg.debug ? 'agent.log=debug' : 'quiet', 'panic=1', 'selinux=0');
  params.push(agent.kind === 'vsock' ? `agent.server_addr=vsock://-1:${agent.port}` : `agent.server_addr=vport://${AGENT_SERIAL_PORT_NAME}`);
  // coco-dev: without a TEE the guest's attestation agent may only use the sample attester, and
  // only a KBS in dev mode (--allow-sample) accepts its evidence.
  if (cfg.profile === 'none') params.push('kata_cc.aa_allow_sample=1');
  // Static guest address on QEMU's user network (the guest has no DHCP client).
  if (cfg.network === 'user') params.push('kata_cc.ip=10.0.2.15/24', 'kata_cc.gw=10.0.2.2');
  params.push(...cfg.kernelParams); // last: kata lets configuration params win
  return params.join(' ');
}

function machineArg(cfg: QemuConfig): string {
  const opts = [cfg.machineType, `accel=${cfg.accel}`];
  if (cfg.profile === 'tdx' || cfg.profile === 'snp') opts.push('kernel_irqchip=split');
  if (cfg.profile === 'tdx') opts.push('confidential-guest-support=tdx');
  if (cfg.profile === 'snp') opts.push('confidential-guest-support=snp');
  if (cfg.profile === 'se') opts.push('confidential-guest-support=pv0');
  return opts.join(',');
}

function cpuArg(cfg: QemuConfig): string | undefined {
  if (cfg.profile === 'se') return cfg.cpuModel;
  // SNP measurements depend on the vCPU type: kata pins EPYC-v4; TCG cannot use `host`.
  const model = cfg.cpuModel ?? (cfg.profile === 'snp' ? 'EPYC-v4' : cfg.accel === 'tcg' ? 'max' : 'host');
  return cfg.cpuFeatures ? `${model},${cfg.cpuFeatures}` : model;
}

/** The TDX object in QAPI JSON form, as kata's `prepareTDXObject` emits it. */
export function tdxObject(cfg: QemuConfig, mrconfigid: Buffer | undefined, exists: (f: string) => boolean): string {
  const obj: Record<string, unknown> = { 'qom-type': 'tdx-guest', id: 'tdx' };
  if (mrconfigid) obj['mrconfigid'] = mrconfigid.toString('base64');
  if (cfg.tdx.qgsPort === 0 && exists(cfg.tdx.qgsSocket)) obj['quote-generation-socket'] = { type: 'unix', path: cfg.tdx.qgsSocket };
  else obj['quote-generation-socket'] = { type: 'vsock', cid: '2', port: String(cfg.tdx.qgsPort || 4050) };
  return JSON.stringify(obj);
}

/** `sev-snp-guest` in key=value form (kata Go `SNPGuest`), policy in decimal. */
export function snpObject(cfg: QemuConfig, hostData: Buffer | undefined): string {
  const parts = ['sev-snp-guest', 'id=snp', `cbitpos=${cfg.snp.cbitpos}`, `reduced-phys-bits=${cfg.snp.reducedPhysBits}`, 'kernel-hashes=on'];
  if (cfg.snp.idBlock !== undefined && cfg.snp.idAuth !== undefined) parts.push(`id-block=${cfg.snp.idBlock}`, `id-auth=${cfg.snp.idAuth}`);
  parts.push(`policy=${cfg.snp.policy}`);
  if (hostData) parts.push(`host-data=${hostData.toString('base64')}`);
  return parts.join(',');
}

export function qemuCommandLine(cfg: QemuConfig, vm: VmSpec): QemuLaunch {
  const ccw = cfg.profile === 'se';
  const blk = ccw ? 'virtio-blk-ccw' : 'virtio-blk-pci';
  const files: QemuLaunch['files'] = { qmp: path.join(vm.dir, 'qmp.sock'), console: path.join(vm.dir, 'console.log'), pid: path.join(vm.dir, 'pid') };
  const agent: AgentEndpoint = cfg.agentChannel === 'vsock'
    ? { kind: 'vsock', cid: vm.vsockCid ?? 3, port: AGENT_VSOCK_PORT }
    : { kind: 'unix', path: path.join(vm.dir, 'agent.sock') };
  const a: string[] = [];
  a.push('-name', `sandbox-${vm.id}`, '-uuid', vm.uuid);
  a.push('-machine', machineArg(cfg));
  const cpu = cpuArg(cfg);
  if (cpu) a.push('-cpu', cpu);
  a.push('-qmp', `unix:${files.qmp},server=on,wait=off`);
  a.push('-m', `${cfg.memoryMiB}M`);
  if (cfg.profile === 'tdx' || cfg.profile === 'snp') {
    // No hotplug for TEEs; QEMU >= 9.1 adds guest_memfd private memory by itself.
    a.push('-object', `memory-backend-ram,id=dimm1,size=${cfg.memoryMiB}M`, '-machine', 'memory-backend=dimm1');
  }
  a.push('-smp', `${cfg.vcpus},cores=${cfg.vcpus},threads=1,sockets=1,maxcpus=${cfg.vcpus}`);

  const digest = vm.initdata ? launchFieldDigest(cfg.profile, vm.initdata.digest) : undefined;
  switch (cfg.profile) {
    case 'tdx':
      a.push('-object', tdxObject(cfg, digest, vm.exists ?? (() => false)));
      break;
    case 'snp':
      a.push('-object', snpObject(cfg, digest));
      break;
    case 'se':
      // SE has no host-supplied launch field: the initdata digest is bound by the SE attester.
      a.push('-object', 's390-pv-guest,id=pv0');
      break;
    case 'none':
      break;
  }
  if (cfg.firmware !== undefined && !ccw) a.push('-bios', cfg.firmware);

  a.push('-kernel', cfg.kernel);
  if (!ccw) {
    // For SE the kernel is the encrypted boot image with its sealed parmfile; -append/-initrd are ignored.
    if (cfg.initrd !== undefined) a.push('-initrd', cfg.initrd);
    a.push('-append', kernelCommandLine(cfg, agent));
  }
  if (cfg.image !== undefined && !ccw) {
    a.push('-drive', `id=image-rootfs,file=${cfg.image},aio=threads,format=raw,if=none,readonly=on`);
    a.push('-device', `${blk},drive=image-rootfs,scsi=off,config-wce=off,serial=image-rootfs`);
  }
  if (vm.initdata !== undefined && vm.initdataImage !== undefined) {
    a.push('-drive', `id=initdata,file=${vm.initdataImage},aio=threads,format=raw,if=none,readonly=on`);
    a.push('-device', ccw ? `${blk},drive=initdata,devno=fe.0.0005` : `${blk},drive=initdata,serial=initdata`);
  }

  // Console (and, without vsock, the agent port) on one virtio-serial controller.
  a.push('-device', ccw ? 'virtio-serial-ccw,id=serial0' : 'virtio-serial-pci,id=serial0,max_ports=2');
  a.push('-chardev', `file,id=charconsole0,path=${files.console}`, '-device', 'virtconsole,chardev=charconsole0,id=console0');
  if (cfg.profile === 'none') {
    files.serial = path.join(vm.dir, 'serial.log');
    a.push('-chardev', `file,id=charserial0,path=${files.serial}`, '-serial', 'chardev:charserial0');
  }
  if (agent.kind === 'vsock') {
    a.push('-device', ccw ? `vhost-vsock-ccw,id=vsock-${agent.cid},guest-cid=${agent.cid},devno=fe.0.0001` : `vhost-vsock-pci,disable-modern=false,id=vsock-${agent.cid},guest-cid=${agent.cid}`);
  } else {
    a.push('-chardev', `socket,id=charagent0,path=${agent.path},server=on,wait=off`);
    a.push('-device', `virtserialport,bus=serial0.0,chardev=charagent0,id=channel0,name=${AGENT_SERIAL_PORT_NAME}`);
  }

  if (cfg.network === 'user') {
    const fwd = cfg.guestForwards.map((f) => `,guestfwd=tcp:${f.guestAddress}:${f.guestPort}-tcp:${f.hostAddress}:${f.hostPort}`).join('');
    // SECURITY: with forwards declared the guest reaches exactly those endpoints (restrict=on).
    a.push('-netdev', `user,id=net0${fwd ? `,restrict=on${fwd}` : ''}`);
    a.push('-device', ccw ? 'virtio-net-ccw,netdev=net0' : 'virtio-net-pci,netdev=net0');
  }
  if (!ccw) {
    a.push('-rtc', 'base=utc,driftfix=slew,clock=host');
    if (cfg.accel === 'kvm') a.push('-global', 'kvm-pit.lost_tick_policy=discard');
    a.push('-vga', 'none');
  }
  a.push('-no-user-config', '-nodefaults', '-nographic', '--no-reboot', '-pidfile', files.pid);
  return { binary: cfg.path, args: a, agent, files };
}
