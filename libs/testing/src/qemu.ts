import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

/** Files of a built guest image (the image builder's output). */
export interface GuestBootFiles {
  kernel: string;
  initrd: string;
  rootfs: string;
  /** Kernel command line fragment of the image (carries the dm-verity root hash). */
  cmdline: string;
}

export interface GuestVmOptions {
  image: GuestBootFiles;
  memMiB?: number;
  /** Extra read-only raw disks (e.g. the initdata image), attached after the rootfs. */
  disks?: string[];
  /**
   * Guest 10.0.2.100:<guestPort> reaches host 127.0.0.1:<hostPort>; nothing else leaves the VM
   * (restrict=on). Each guest connection spawns `busybox nc` (guestfwd `cmd:`): a guestfwd to a
   * tcp chardev is ONE connection opened when QEMU starts, shared by every guest connection.
   */
  forwards?: { guestPort: number; hostPort: number }[];
  /** Appended to the kernel command line. */
  append?: string;
  /** Called with every serial console line (kernel + init + agent logs). */
  onLine?: (line: string) => void;
}

/** A running TCG guest with its agent channel (virtio-serial port `agent.0`) as a host Unix socket. */
export interface GuestVm {
  readonly process: ChildProcess;
  /** Host Unix socket of the guest's agent.0 port: connect to it to speak ttRPC to the agent. */
  readonly agentSocket: string;
  readonly lines: string[];
  /** Host ms since spawn at which each `MARK <name> <uptime>` console line appeared. */
  readonly marks: Map<string, { hostMs: number; guestUptimeS: number }>;
  readonly startedAt: number;
  waitForLine(re: RegExp, timeoutMs: number): Promise<string>;
  /** Connects to the agent port (retrying while QEMU creates the socket). */
  connectAgent(timeoutMs?: number): Promise<net.Socket>;
  stop(): Promise<void>;
}

/** Kata-style boot arguments that make TCG boots fast and reliable (measured in ../shared/peers). */
const FAST_BOOT = 'console=ttyS0 panic=-1 quiet lpj=9780000 tsc=reliable no_timer_check rcupdate.rcu_expedited=1 i8042.direct=1 i8042.dumbkbd=1 i8042.nopnp=1 i8042.noaux=1 noreplace-smp reboot=k cryptomgr.notests';

/**
 * Boots a guest under QEMU TCG: q35, PVH vmlinux, 1 vCPU, virtio-serial agent channel,
 * user-mode networking restricted to the given forwards, rootfs as a read-only virtio disk.
 */
export async function startGuestVm(options: GuestVmOptions): Promise<GuestVm> {
  const dir = await mkdtemp(path.join(tmpdir(), 'kcc-vm-'));
  const agentSocket = path.join(dir, 'agent.sock');
  const fwd = (options.forwards ?? []).map((f) => `,guestfwd=tcp:10.0.2.100:${f.guestPort}-cmd:busybox nc 127.0.0.1 ${f.hostPort}`).join('');
  const disks = [options.image.rootfs, ...(options.disks ?? [])];
  const args = [
    '-M', 'q35', '-accel', 'tcg', '-cpu', 'max', '-smp', '1', '-m', String(options.memMiB ?? 1024),
    '-nodefaults', '-no-user-config', '-display', 'none', '-monitor', 'none', '-serial', 'stdio', '-no-reboot',
    '-kernel', options.image.kernel, '-initrd', options.image.initrd,
    '-append', `${FAST_BOOT} ${options.image.cmdline} kata_cc.ip=10.0.2.15/24 kata_cc.gw=10.0.2.2 agent.server_addr=vport://agent.0 ${options.append ?? ''}`.trim(),
    '-device', 'virtio-serial-pci,id=vs0',
    '-chardev', `socket,path=${agentSocket},server=on,wait=off,id=agent0`,
    '-device', 'virtserialport,bus=vs0.0,chardev=agent0,name=agent.0',
    '-netdev', `user,id=n0,restrict=on${fwd}`, '-device', 'virtio-net-pci,netdev=n0',
  ];
  disks.forEach((f, i) => args.push('-drive', `file=${f},if=none,id=d${i},format=raw,readonly=on`, '-device', `virtio-blk-pci,drive=d${i}`));
  const startedAt = performance.now();
  const child = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const marks = new Map<string, { hostMs: number; guestUptimeS: number }>();
  const waiters = new Set<(line: string) => void>();
  let buf = '';
  let exited = false;
  const onData = (d: Buffer): void => {
    buf += d.toString('latin1');
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i).replace(/\r$/, '');
      buf = buf.slice(i + 1);
      lines.push(line);
      const m = /MARK (\S+) (\d[\d.]*)/.exec(line);
      if (m?.[1] && !marks.has(m[1])) marks.set(m[1], { hostMs: Math.round(performance.now() - startedAt), guestUptimeS: Number(m[2]) });
      options.onLine?.(line);
      for (const w of waiters) w(line);
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', (d: Buffer) => onData(Buffer.from(`[qemu] ${d.toString()}`)));
  const exitPromise = new Promise<void>((resolve) => child.on('exit', () => { exited = true; resolve(); }));
  // Never leave a VM behind when the test process exits without its after() hooks.
  const killOnExit = (): void => { if (!exited) child.kill('SIGKILL'); };
  process.once('exit', killOnExit);

  const waitForLine = (re: RegExp, timeoutMs: number): Promise<string> => {
    const seen = lines.find((l) => re.test(l));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const done = (fn: () => void): void => { clearTimeout(t); waiters.delete(w); fn(); };
      const w = (line: string): void => { if (re.test(line)) done(() => resolve(line)); };
      const t = setTimeout(() => done(() => reject(new Error(`Guest printed no line matching ${re} within ${timeoutMs} ms; last lines:\n${lines.slice(-25).join('\n')}`))), timeoutMs);
      waiters.add(w);
      void exitPromise.then(() => done(() => reject(new Error(`QEMU exited before ${re}; last lines:\n${lines.slice(-25).join('\n')}`))));
    });
  };

  const connectAgent = async (timeoutMs = 30_000): Promise<net.Socket> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (exited) throw new Error(`QEMU exited; last lines:\n${lines.slice(-25).join('\n')}`);
      if (existsSync(agentSocket)) {
        try {
          return await new Promise<net.Socket>((resolve, reject) => {
            const s = net.connect(agentSocket);
            s.once('connect', () => resolve(s));
            s.once('error', reject);
          });
        } catch {
          // QEMU has not started listening yet
        }
      }
      if (Date.now() > deadline) throw new Error(`Cannot connect to ${agentSocket}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const stop = async (): Promise<void> => {
    if (!exited) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exitPromise;
      clearTimeout(t);
    }
    process.removeListener('exit', killOnExit);
    await rm(dir, { recursive: true, force: true });
  };
  return { process: child, agentSocket, lines, marks, startedAt, waitForLine, connectAgent, stop };
}

/**
 * kata's initdata block device: "initdata" magic, u64 LE length, gzip(TOML), zero-padded to a
 * 512-byte sector (what the shim writes to data.img and attaches read-only).
 */
export function initdataDisk(toml: string | Buffer): Buffer {
  const gz = gzipSync(Buffer.from(toml));
  const head = Buffer.alloc(16);
  head.write('initdata', 0, 'latin1');
  head.writeBigUInt64LE(BigInt(gz.length), 8);
  const body = Buffer.concat([head, gz]);
  return Buffer.concat([body, Buffer.alloc((512 - (body.length % 512)) % 512)]);
}
