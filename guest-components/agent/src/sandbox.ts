import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { silentLogger, type Logger } from '@kata-cc/log';
import { agentError, checkId } from './errors.js';
import { Container } from './container/container.js';
import { cgroupStats, networkStats, oomKills } from './container/cgroup-stats.js';
import { guestSpec, protoToOci, type OciSpec } from './container/oci-spec.js';
import { Runc } from './container/runc.js';
import type { ImagePuller } from './storage/image-puller.js';
import { handleStorages, STORAGE_HANDLERS, type StorageMsg } from './storage/storages.js';

export interface SandboxDeps {
  logger?: Logger;
  runc?: Runc;
  imagePuller?: ImagePuller;
  /** Where bundles go (kata: /run/kata-containers/<cid>). */
  containersDir?: string;
  version?: string;
  /** Apply hostname/DNS of CreateSandbox to the guest (only inside a VM; never on a host). */
  configureGuest?: boolean;
}

type Msg = Record<string, unknown>;
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** The agent's state: the sandbox and its containers, and the operations on them. */
export class Sandbox {
  readonly #log: Logger;
  readonly #runc: Runc;
  readonly #puller: ImagePuller | undefined;
  readonly #dir: string;
  readonly #version: string;
  readonly #configureGuest: boolean;
  readonly containers = new Map<string, Container>();
  #sandboxId: string | undefined;
  #oomQueue: string[] = [];
  #oomWaiters = new Set<() => void>();
  #oomTimer: NodeJS.Timeout | undefined;

  constructor(deps: SandboxDeps = {}) {
    this.#log = deps.logger ?? silentLogger;
    this.#runc = deps.runc ?? new Runc();
    this.#puller = deps.imagePuller;
    this.#dir = deps.containersDir ?? '/run/kata-containers';
    this.#version = deps.version ?? '0.1.0';
    this.#configureGuest = deps.configureGuest === true;
  }

  /** True inside a VM (hostname, DNS and clock are the agent's to set). */
  get configuresGuest(): boolean {
    return this.#configureGuest;
  }

  get sandboxId(): string | undefined {
    return this.#sandboxId;
  }

  async createSandbox(req: Msg): Promise<void> {
    if (this.#sandboxId !== undefined) throw agentError('AGENT_SANDBOX_EXISTS', `Sandbox ${this.#sandboxId} already exists`);
    const id = checkId(str(req['sandbox_id']) || 'sandbox', 'sandbox id');
    const hostname = str(req['hostname']);
    if (hostname && this.#configureGuest) {
      await writeFile('/proc/sys/kernel/hostname', hostname).catch((e: unknown) => this.#log.warn({ err: e }, 'cannot set hostname'));
    }
    const dns = (req['dns'] as string[] | undefined) ?? [];
    if (dns.length && this.#configureGuest) await writeFile('/run/resolv.conf', dns.map((d) => (d.includes(' ') ? d : `nameserver ${d}`)).join('\n') + '\n').catch(() => undefined);
    await handleStorages((req['storages'] as StorageMsg[] | undefined) ?? [], this.#dir, undefined, this.#log, new AbortController().signal);
    await mkdir(this.#dir, { recursive: true });
    this.#sandboxId = id;
    this.#oomTimer = setInterval(() => void this.#pollOom(), 250);
    this.#oomTimer.unref();
    this.#log.info({ sandboxId: id }, 'sandbox created');
  }

  #requireSandbox(): void {
    if (this.#sandboxId === undefined) throw agentError('AGENT_NO_SANDBOX', 'No sandbox: call CreateSandbox first');
  }

  container(id: string): Container {
    const c = this.containers.get(id);
    if (!c) throw agentError('AGENT_CONTAINER_NOT_FOUND', `Container ${id} not found`);
    return c;
  }

  async createContainer(req: Msg, signal: AbortSignal): Promise<void> {
    this.#requireSandbox();
    const id = checkId(str(req['container_id']), 'container id');
    const execId = str(req['exec_id']) || id;
    checkId(execId, 'exec id');
    if (this.containers.has(id)) throw agentError('AGENT_CONTAINER_EXISTS', `Container ${id} already exists`);
    const bundle = path.join(this.#dir, id);
    await mkdir(bundle, { recursive: true });
    try {
      const image = await handleStorages((req['storages'] as StorageMsg[] | undefined) ?? [], bundle, this.#puller, this.#log, signal);
      const fromHost = protoToOci(req['OCI'] ?? {}) as OciSpec;
      const rootfs = image?.rootfs ?? path.join(bundle, 'rootfs');
      if (!existsSync(rootfs)) throw agentError('AGENT_INVALID_SPEC', `Container ${id} has no root filesystem (no image_guest_pull storage)`);
      const { spec, dropped } = guestSpec(fromHost, id, rootfs, (p) => existsSync(p));
      if (dropped.length) this.#log.info({ containerId: id, dropped }, 'host bind mounts without a guest source were dropped');
      // Image defaults fill what the spec leaves empty (a bare CreateContainer from a test or ctr).
      const cfg = image?.config;
      const ip = image?.process;
      const proc = spec.process ?? {};
      if (!proc.args?.length) proc.args = ip?.args?.length ? ip.args : [...(cfg?.Entrypoint ?? []), ...(cfg?.Cmd ?? [])];
      if (!proc.args.length) throw agentError('AGENT_INVALID_SPEC', `Container ${id} has no process args and the image has no entrypoint`);
      if (!proc.env?.length) proc.env = ip?.env ?? cfg?.Env ?? ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'];
      if (!proc.cwd || proc.cwd === '/') proc.cwd = ip?.cwd || cfg?.WorkingDir || '/';
      proc.user ??= ip?.user ?? { uid: 0, gid: 0 };
      spec.process = proc;
      await writeFile(path.join(bundle, 'config.json'), JSON.stringify(spec));
      this.containers.set(id, new Container(id, bundle, spec, this.#runc, execId));
      this.#log.info({ containerId: id }, 'container created');
    } catch (err) {
      // No half-created container: the bundle goes with the failure.
      await rm(bundle, { recursive: true, force: true }).catch(() => undefined);
      throw err;
    }
  }

  async startContainer(req: Msg): Promise<void> {
    const c = this.container(str(req['container_id']));
    await c.start();
    this.#log.info({ containerId: c.id }, 'container started');
  }

  async removeContainer(req: Msg): Promise<void> {
    const c = this.container(str(req['container_id']));
    await c.destroy();
    this.containers.delete(c.id);
    await rm(c.bundle, { recursive: true, force: true });
    this.#log.info({ containerId: c.id }, 'container removed');
  }

  async execProcess(req: Msg): Promise<void> {
    const c = this.container(str(req['container_id']));
    const execId = checkId(str(req['exec_id']), 'exec id');
    const proc = protoToOci(req['process'] ?? {}) as NonNullable<OciSpec['process']>;
    if (!proc.args?.length) throw agentError('AGENT_INVALID_SPEC', 'ExecProcess needs process.Args');
    proc.cwd ||= c.spec.process?.cwd ?? '/';
    proc.user ??= { uid: 0, gid: 0 };
    if (!proc.env?.length) proc.env = c.spec.process?.env ?? [];
    await c.exec(execId, proc);
  }

  async signalProcess(req: Msg): Promise<void> {
    const c = this.container(str(req['container_id']));
    const sig = Number(req['signal'] ?? 0);
    if (!Number.isInteger(sig) || sig < 0 || sig > 64) throw agentError('AGENT_INVALID_SPEC', `Invalid signal ${String(req['signal'])}`);
    await c.signal(str(req['exec_id']), sig);
  }

  async waitProcess(req: Msg, signal: AbortSignal): Promise<{ status: number }> {
    const c = this.container(str(req['container_id']));
    return { status: await c.process(str(req['exec_id'])).wait(signal) };
  }

  async writeStdin(req: Msg): Promise<{ len: number }> {
    const p = this.container(str(req['container_id'])).process(str(req['exec_id']));
    const data = req['data'] as Buffer | undefined;
    return { len: data?.length ? await p.writeStdin(Buffer.from(data)) : 0 };
  }

  async readStream(req: Msg, which: 'stdout' | 'stderr', signal: AbortSignal): Promise<{ data: Buffer }> {
    const p = this.container(str(req['container_id'])).process(str(req['exec_id']));
    return { data: await p[which].read(Number(req['len'] ?? 0), signal) };
  }

  closeStdin(req: Msg): void {
    this.container(str(req['container_id'])).process(str(req['exec_id'])).closeStdin();
  }

  ttyWinResize(req: Msg): void {
    const p = this.container(str(req['container_id'])).process(str(req['exec_id']));
    p.resize(Number(req['row'] ?? 0), Number(req['column'] ?? 0));
  }

  async statsContainer(req: Msg): Promise<Msg> {
    const c = this.container(str(req['container_id']));
    return { cgroup_stats: await cgroupStats(c.cgroupDir), network_stats: await networkStats() };
  }

  async updateContainer(req: Msg): Promise<void> {
    const c = this.container(str(req['container_id']));
    const resources = protoToOci(req['resources'] ?? {}) as Record<string, unknown>;
    if (c.status !== 'running') throw agentError('AGENT_INVALID_STATE', `Container ${c.id} is not running`);
    await this.#runc.exec(['update', '--resources', '-', c.id], JSON.stringify(resources));
  }

  async pauseContainer(req: Msg, pause: boolean): Promise<void> {
    const c = this.container(str(req['container_id']));
    await this.#runc.exec([pause ? 'pause' : 'resume', c.id]);
  }

  async guestDetails(req: Msg): Promise<Msg> {
    let block = 0;
    if (req['mem_block_size'] === true) {
      const hex = (await readFile('/sys/devices/system/memory/block_size_bytes', 'utf8').catch(() => '')).trim();
      block = hex ? parseInt(hex, 16) : 0;
    }
    return {
      mem_block_size_bytes: block,
      agent_details: {
        version: this.#version, init_daemon: process.pid === 1, device_handlers: [], storage_handlers: STORAGE_HANDLERS,
        supports_seccomp: true, extra_features: ['guest_pull', 'agent_policy'],
      },
      support_mem_hotplug_probe: false,
    };
  }

  async #pollOom(): Promise<void> {
    for (const c of this.containers.values()) {
      const n = await oomKills(c.cgroupParent);
      if (n > c.oomKills) {
        c.oomKills = n;
        this.#oomQueue.push(c.id);
        this.#log.warn({ containerId: c.id }, 'OOM kill in container');
      }
    }
    if (this.#oomQueue.length) for (const w of this.#oomWaiters) w();
  }

  /** Long poll: resolves with the next container that had an OOM kill. */
  async nextOomEvent(signal: AbortSignal): Promise<{ container_id: string }> {
    while (this.#oomQueue.length === 0) {
      if (signal.aborted) throw agentError('AGENT_CANCELLED', 'GetOOMEvent cancelled');
      await new Promise<void>((resolve) => {
        const done = (): void => { this.#oomWaiters.delete(done); signal.removeEventListener('abort', done); resolve(); };
        this.#oomWaiters.add(done);
        signal.addEventListener('abort', done, { once: true });
      });
    }
    return { container_id: this.#oomQueue.shift() as string };
  }

  async destroySandbox(): Promise<void> {
    for (const c of [...this.containers.values()]) {
      await c.destroy().catch((err: unknown) => this.#log.error({ err, containerId: c.id }, 'container cleanup failed'));
      this.containers.delete(c.id);
      await rm(c.bundle, { recursive: true, force: true }).catch(() => undefined);
    }
    if (this.#oomTimer) clearInterval(this.#oomTimer);
    this.#log.info({ sandboxId: this.#sandboxId }, 'sandbox destroyed');
    this.#sandboxId = undefined;
  }
}
