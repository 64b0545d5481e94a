import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { KccError } from '@kata-cc/errors';
import { parseConfig, realHostProbe, type TeeProfile } from '@kata-cc/hypervisor';
import { silentLogger, type Logger } from '@kata-cc/log';
import { Sandbox } from '@kata-cc/sandbox';
import { encryptionKeyIds } from './image-keys.js';
import { startEmbeddedKbs, type EmbeddedKbs } from './kbs-process.js';
import { programPaths } from './paths.js';
import { Progress } from './progress.js';

export interface RunOptions {
  image: string;
  command: string[];
  decryptionKey?: string;
  insecureRegistries: string[];
  kbs?: string;
  tee: TeeProfile;
  accel: 'auto' | 'kvm' | 'tcg';
  memoryMiB: number;
  guestDir?: string;
  timeoutS: number;
  logger?: Logger;
  quiet?: boolean;
}

/** Where the KBS decryption key of `--decryption-key` lives (and what cdh.toml asks for). */
export const RUN_KEY_RESOURCE = 'default/image-key/kata-cc-run';
/** QEMU user networking: the guest reaches the host's loopback as 10.0.2.2. */
const HOST_FROM_GUEST = '10.0.2.2';

/** `127.0.0.1:5000/x` -> `10.0.2.2:5000/x`: loopback names mean the guest itself inside the VM. */
export function guestReachable(hostPort: string): string {
  return hostPort.replace(/^(127\.0\.0\.1|localhost|\[::1\])(?=:|\/|$)/, HOST_FROM_GUEST);
}

interface GuestImage { kernel: string; initrd: string; rootfs: string; cmdline: string }

async function guestImage(o: RunOptions, progress: Progress): Promise<GuestImage> {
  const dir = o.guestDir ?? programPaths().installedGuest;
  if (dir) {
    const m = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8')) as { cmdline: string };
    return { kernel: path.join(dir, 'vmlinux'), initrd: path.join(dir, 'initrd.img'), rootfs: path.join(dir, 'rootfs.img'), cmdline: m.cmdline };
  }
  progress.step('preparing the guest image (built once, then cached)');
  const [bin, ...args] = programPaths().buildGuest as [string, ...string[]];
  try {
    const { stdout } = await promisify(execFile)(bin, [...args, '--json'], { timeout: 1_800_000, maxBuffer: 1 << 20 });
    return JSON.parse(stdout) as GuestImage;
  } catch (cause) {
    throw new KccError({ kind: 'FAILED_PRECONDITION', code: 'KCC_GUEST_IMAGE_UNAVAILABLE', message: 'No guest image: pass --guest-dir or build one with `npm run build:guest`', cause });
  }
}

/** initdata for the run: where the guest's AA/CDH find the KBS, insecure registries, the key to fetch. */
export function runInitdata(kbsUrl: string, insecure: string[], withKey: boolean): string {
  const regs = insecure.map((r) => `[[image.registry_config.registry]]\nlocation = ${JSON.stringify(r)}\ninsecure = true\n`).join('');
  const creds = withKey ? `credentials = [{ resource_uri = "kbs:///${RUN_KEY_RESOURCE}", path = "/run/confidential-containers/image-keys/kata-cc-run.pem" }]\n` : '';
  return `version = "0.1.0"\nalgorithm = "sha384"\n[data]\n"aa.toml" = '''\n[token_configs.kbs]\nurl = ${JSON.stringify(kbsUrl)}\n'''\n"cdh.toml" = '''\n${creds}[kbc]\nname = "cc_kbc"\nurl = ${JSON.stringify(kbsUrl)}\n${regs}'''\n`;
}

/** Runs IMAGE in a fresh confidential guest and returns the container's exit status. */
export async function runImage(o: RunOptions): Promise<number> {
  const log = o.logger ?? silentLogger;
  const progress = new Progress(process.stderr, o.quiet === true);
  const work = await mkdtemp(path.join(tmpdir(), 'kcc-run-'));
  let kbs: EmbeddedKbs | undefined;
  let sandbox: Sandbox | undefined;
  let booting: Promise<Sandbox> | undefined;
  // Ctrl-C while the guest boots: abort stops QEMU (its own process group would outlive us).
  const abort = new AbortController();
  const cleanup = async (): Promise<void> => {
    abort.abort();
    await booting?.catch(() => undefined);
    await sandbox?.destroy().catch(() => undefined);
    await kbs?.stop();
    await rm(work, { recursive: true, force: true });
  };
  const onSignal = (): void => { void cleanup().finally(() => process.exit(130)); };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    if (o.decryptionKey && !existsSync(o.decryptionKey)) throw new KccError({ kind: 'NOT_FOUND', code: 'KCC_KEY_NOT_FOUND', message: `Decryption key file "${o.decryptionKey}" does not exist` });
    let accel: 'kvm' | 'tcg' = o.accel === 'auto' ? 'tcg' : o.accel;
    if (o.accel === 'auto') {
      progress.step('probing KVM');
      accel = (await realHostProbe.kvmWorks('qemu-system-x86_64')).ok ? 'kvm' : 'tcg';
    }
    if (accel === 'tcg' && o.tee !== 'none') throw new KccError({ kind: 'FAILED_PRECONDITION', code: 'KCC_TEE_UNAVAILABLE', message: `--tee ${o.tee} needs KVM with ${o.tee.toUpperCase()} support; run \`kata-cc check --tee ${o.tee}\` for what is missing` });
    const g = await guestImage(o, progress);
    let kbsUrl = o.kbs;
    let keyAtRunResource = false;
    if (kbsUrl === undefined) {
      progress.step('starting the embedded KBS (dev mode: sample TEE accepted)');
      kbs = await startEmbeddedKbs(work, programPaths().kbs, programPaths().kbsCli, path.join(work, 'kbs.log'));
      kbsUrl = kbs.url;
      if (o.decryptionKey) {
        // The key goes where the image's layers say it lives (their keyprovider `kid`); images
        // without such layers get it at RUN_KEY_RESOURCE, named in cdh.toml credentials.
        const kids = await encryptionKeyIds(o.image, o.insecureRegistries);
        keyAtRunResource = kids.length === 0;
        for (const p of kids.length ? kids : [RUN_KEY_RESOURCE]) await kbs.setResource(p, o.decryptionKey);
      }
    } else if (o.decryptionKey) {
      throw new KccError({ kind: 'INVALID_ARGUMENT', code: 'KCC_USAGE', message: `--decryption-key stores the key in the embedded KBS; with --kbs, upload it yourself (kbs-cli set-resource --path ${RUN_KEY_RESOURCE})` });
    }
    const guestKbs = guestReachable(kbsUrl.replace(/^(https?:\/\/)/, '')).replace(/^/, kbsUrl.startsWith('https') ? 'https://' : 'http://');
    const imageRef = guestReachable(o.image);
    const insecure = o.insecureRegistries.map(guestReachable);
    const config = parseConfig({
      hypervisor: { qemu: { tee: o.tee, accel, kernel: g.kernel, initrd: g.initrd, image: g.rootfs, rootfs_type: 'erofs', default_memory: o.memoryMiB, kernel_params: `${g.cmdline}${accel === 'tcg' ? ' lpj=9780000' : ''}`, agent_channel: 'virtio-serial', network: 'user' } },
      agent: { kata: { dial_timeout: Math.min(o.timeoutS, 3600) } },
      runtime: { create_container_timeout: Math.min(o.timeoutS, 3600), state_dir: path.join(work, 'state') },
    });
    const annotations = { 'io.katacontainers.config.hypervisor.cc_init_data': gzipSync(runInitdata(guestKbs, insecure, keyAtRunResource)).toString('base64') };
    progress.step(`booting the guest (${o.tee}, ${accel})`);
    const id = `run-${randomBytes(4).toString('hex')}`;
    booting = Sandbox.create({ id, config, annotations, logger: log, signal: abort.signal });
    sandbox = await booting;
    progress.step(`attesting and pulling ${imageRef} in the guest`);
    const cid = `${id}-c`;
    await sandbox.createContainer(cid, {
      ociVersion: '1.0.2',
      process: { args: o.command, env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], cwd: '/', user: { uid: 0, gid: 0 } },
      root: { path: 'rootfs', readonly: false },
      annotations: { 'io.kubernetes.cri.image-name': imageRef, 'io.kubernetes.cri.container-type': 'container' },
      mounts: [{ destination: '/proc', type: 'proc', source: 'proc', options: [] }, { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'mode=755'] }],
    });
    progress.step('running');
    await sandbox.agent.call('StartContainer', { container_id: cid });
    progress.done();
    const agent = sandbox.agent;
    const pump = async (method: 'ReadStdout' | 'ReadStderr', out: NodeJS.WriteStream): Promise<void> => {
      for (;;) {
        try {
          const r = await agent.call(method, { container_id: cid, exec_id: '', len: 32768 }, 0);
          out.write(r['data'] as Buffer);
        } catch {
          return;
        }
      }
    };
    const pumps = Promise.all([pump('ReadStdout', process.stdout), pump('ReadStderr', process.stderr)]);
    const w = await agent.call('WaitProcess', { container_id: cid, exec_id: '' }, 0);
    await Promise.race([pumps, new Promise((r) => setTimeout(r, 2000))]);
    return Number(w['status']);
  } catch (err) {
    progress.fail();
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanup();
  }
}
