import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { KccError } from '@kata-cc/errors';
import { silentLogger, type Logger } from '@kata-cc/log';
import type { RuntimeConfig } from '@kata-cc/hypervisor';
import { CRI_CONTAINER_TYPE, Sandbox, sandboxDir, toAgentProcess, type SandboxOptions } from '@kata-cc/sandbox';
import type { EventSink } from './events.js';
import { STATUS, ShimProcess } from './process.js';
import { codec, timestamp, type Msg } from './protos.js';
import { agentResources, cgroupsV1Metrics } from './convert.js';
import { watchSandbox } from './watch.js';

interface Container {
  id: string;
  bundle: string;
  rootfs: unknown[];
  isSandbox: boolean;
  init: ShimProcess;
  execs: Map<string, ShimProcess>;
}

export interface TaskServiceDeps {
  namespace: string;
  events: EventSink;
  /** Loads the runtime configuration (`config_path` from the runtime options, if any). */
  loadConfig: (configPath: string | undefined) => RuntimeConfig;
  /** Called after Shutdown was answered, when no container is left. */
  onShutdown: () => void;
  logger?: Logger;
  createSandbox?: (o: SandboxOptions) => Promise<Sandbox>;
}

/** The file in the sandbox bundle that tells `shim delete` where the VM state is. */
export const BUNDLE_STATE_FILE = 'kata-cc-state.json';

/** Exit status of a process whose start failed (runc reports 255 as well). */
const EXIT_START_FAILED = 255;
const notFound = (what: string): KccError => new KccError({ kind: 'NOT_FOUND', code: 'SHIM_NOT_FOUND', message: `${what} not found` });

/**
 * containerd.task.v2.Task for one pod: the first Create boots the sandbox VM; later Creates
 * (CRI containers of the same pod, routed here by `shim start`) run in it. Transport-neutral:
 * `task-ttrpc.ts` adapts it to ttRPC.
 */
export class TaskService {
  readonly #d: TaskServiceDeps;
  readonly #log: Logger;
  readonly #containers = new Map<string, Container>();
  #sandbox: Sandbox | undefined;
  #sandboxId: string | undefined;
  #config: RuntimeConfig | undefined;
  #sandboxGone = false;

  constructor(deps: TaskServiceDeps) {
    this.#d = deps;
    this.#log = (deps.logger ?? silentLogger).child({ component: 'task' });
  }

  #container(id: string): Container {
    const c = this.#containers.get(id);
    if (!c) throw notFound(`Container "${id}"`);
    return c;
  }

  #process(id: string, execId: string): ShimProcess {
    const c = this.#container(id);
    if (!execId) return c.init;
    const p = c.execs.get(execId);
    if (!p) throw notFound(`Exec "${execId}" of container "${id}"`);
    return p;
  }

  #pid(): number {
    return this.#sandbox?.pid ?? 0;
  }

  #onExit = (p: ShimProcess): void => {
    this.#d.events.publish('/tasks/exit', { container_id: p.containerId, id: p.execId || p.containerId, pid: this.#pid(), exit_status: p.exitStatus, exited_at: timestamp(p.exitedAt ?? new Date()) });
  };

  async create(req: Msg): Promise<Msg> {
    const id = String(req['id']);
    const bundle = String(req['bundle']);
    if (this.#containers.has(id)) throw new KccError({ kind: 'ALREADY_EXISTS', code: 'SHIM_ALREADY_EXISTS', message: `Container "${id}" already exists` });
    const spec = JSON.parse(await readFile(path.join(bundle, 'config.json'), 'utf8')) as Msg;
    const annotations = (spec['annotations'] ?? {}) as Record<string, string>;
    const stdio = { stdin: String(req['stdin'] ?? ''), stdout: String(req['stdout'] ?? ''), stderr: String(req['stderr'] ?? ''), terminal: req['terminal'] === true };
    if (this.#sandbox === undefined) {
      const opts = req['options'] as { type_url?: string; value?: Buffer } | undefined;
      let configPath: string | undefined;
      if (opts?.type_url?.endsWith('runtimeoptions.v1.Options') && opts.value) configPath = String(codec('runtimeoptions.v1.Options').decode(opts.value)['config_path'] ?? '') || undefined;
      this.#config = this.#d.loadConfig(configPath);
      const create = this.#d.createSandbox ?? ((o: SandboxOptions) => Sandbox.create(o));
      this.#sandbox = await create({ id, config: this.#config, annotations, ...(typeof spec['hostname'] === 'string' ? { hostname: spec['hostname'] } : {}), logger: this.#log });
      this.#sandboxId = id;
      // `shim delete` after a crash finds the VM through this file.
      await writeFile(path.join(bundle, BUNDLE_STATE_FILE), JSON.stringify({ vmDir: sandboxDir(this.#config, id) }), { mode: 0o600 });
      this.#watchSandbox(this.#sandbox);
    }
    const sandbox = this.#sandbox;
    const init = new ShimProcess(id, '', stdio);
    init.openIo();
    try {
      await sandbox.createContainer(id, spec);
    } catch (err) {
      init.closeIo();
      if (id === this.#sandboxId) await this.#destroySandbox();
      throw err;
    }
    const c: Container = { id, bundle, rootfs: (req['rootfs'] ?? []) as unknown[], isSandbox: annotations[CRI_CONTAINER_TYPE] === 'sandbox' || id === this.#sandboxId, init, execs: new Map() };
    this.#containers.set(id, c);
    this.#d.events.publish('/tasks/create', { container_id: id, bundle, rootfs: c.rootfs, io: stdio, checkpoint: '', pid: this.#pid() });
    return { pid: this.#pid() };
  }

  #watchSandbox(sb: Sandbox): void {
    watchSandbox(sb, {
      onVmExit: (exit) => {
        this.#log.warn({ exit: { code: exit.code, signal: exit.signal } }, 'the sandbox VM exited');
        for (const c of this.#containers.values()) for (const p of [c.init, ...c.execs.values()]) p.markExited(255, this.#onExit);
      },
      onOom: (containerId) => this.#d.events.publish('/tasks/oom', { container_id: containerId }),
    });
  }

  async start(req: Msg): Promise<Msg> {
    const id = String(req['id']);
    const execId = String(req['exec_id'] ?? '');
    const p = this.#process(id, execId);
    const sb = this.#requireSandbox();
    p.transition('running');
    try {
      if (execId) {
        const spec = p.spec as Msg;
        await sb.agent.call('ExecProcess', { container_id: id, exec_id: execId, process: toAgentProcess(spec) });
      } else {
        await sb.agent.call('StartContainer', { container_id: id });
      }
    } catch (err) {
      p.markExited(EXIT_START_FAILED);
      throw err;
    }
    // Start is published before the exit watcher can publish an exit (ordering rule).
    if (execId) this.#d.events.publish('/tasks/exec-started', { container_id: id, exec_id: execId, pid: this.#pid() });
    else this.#d.events.publish('/tasks/start', { container_id: id, pid: this.#pid() });
    p.run(sb.agent, this.#log, this.#onExit);
    return { pid: this.#pid() };
  }

  #requireSandbox(): Sandbox {
    if (!this.#sandbox) throw new KccError({ kind: 'FAILED_PRECONDITION', code: 'SHIM_NO_SANDBOX', message: 'No sandbox: create the sandbox task first' });
    return this.#sandbox;
  }

  async exec(req: Msg): Promise<Msg> {
    const id = String(req['id']);
    const execId = String(req['exec_id']);
    const c = this.#container(id);
    if (!execId || c.execs.has(execId)) throw new KccError({ kind: 'ALREADY_EXISTS', code: 'SHIM_ALREADY_EXISTS', message: `Exec "${execId}" already exists in "${id}"` });
    const anySpec = req['spec'] as { value?: Buffer } | undefined;
    let spec: Msg;
    try {
      spec = JSON.parse(Buffer.from(anySpec?.value ?? []).toString('utf8')) as Msg;
    } catch (cause) {
      throw new KccError({ kind: 'INVALID_ARGUMENT', code: 'SHIM_EXEC_SPEC_INVALID', message: `Exec "${execId}" has no valid OCI process spec`, cause });
    }
    const p = new ShimProcess(id, execId, { stdin: String(req['stdin'] ?? ''), stdout: String(req['stdout'] ?? ''), stderr: String(req['stderr'] ?? ''), terminal: req['terminal'] === true });
    p.spec = spec;
    p.openIo();
    c.execs.set(execId, p);
    this.#d.events.publish('/tasks/exec-added', { container_id: id, exec_id: execId });
    return {};
  }

  async state(req: Msg): Promise<Msg> {
    const id = String(req['id']);
    const execId = String(req['exec_id'] ?? '');
    const c = this.#container(id);
    const p = this.#process(id, execId);
    return {
      id: execId || id, bundle: c.bundle, pid: this.#pid(), status: STATUS[p.status],
      stdin: p.stdio.stdin, stdout: p.stdio.stdout, stderr: p.stdio.stderr, terminal: p.stdio.terminal,
      exit_status: p.exitStatus, ...(p.exitedAt ? { exited_at: timestamp(p.exitedAt) } : {}), exec_id: execId,
    };
  }

  async kill(req: Msg): Promise<Msg> {
    const id = String(req['id']);
    const execId = String(req['exec_id'] ?? '');
    const p = this.#process(id, execId);
    const signal = Number(req['signal']);
    // SIGKILL/SIGTERM to a stopped process is a no-op (CRI StopPodSandbox retries rely on it).
    if (p.status === 'stopped') return {};
    if (p.status === 'created') {
      p.markExited(128 + signal, this.#onExit);
      return {};
    }
    // For the init process kata signals every process of the container (exec_id "" = all).
    await this.#requireSandbox().agent.call('SignalProcess', { container_id: id, exec_id: execId, signal });
    return {};
  }

  async wait(req: Msg): Promise<Msg> {
    const p = this.#process(String(req['id']), String(req['exec_id'] ?? ''));
    await p.exited;
    return { exit_status: p.exitStatus, exited_at: timestamp(p.exitedAt ?? new Date()) };
  }

  async delete(req: Msg): Promise<Msg> {
    const id = String(req['id']);
    const execId = String(req['exec_id'] ?? '');
    const c = this.#container(id);
    const p = this.#process(id, execId);
    if (p.status !== 'stopped' && p.status !== 'created') {
      throw new KccError({ kind: 'FAILED_PRECONDITION', code: 'SHIM_PROCESS_RUNNING', message: `Cannot delete "${execId || id}": it is ${p.status}` });
    }
    p.markExited(p.exitStatus);
    const res = { pid: this.#pid(), exit_status: p.exitStatus, exited_at: timestamp(p.exitedAt ?? new Date()) };
    if (execId) {
      c.execs.delete(execId);
      return res;
    }
    for (const e of c.execs.values()) e.closeIo();
    if (c.isSandbox) {
      await this.#destroySandbox();
    } else {
      await this.#sandbox?.agent.call('RemoveContainer', { container_id: id, timeout: 0 }).catch((err: unknown) => this.#log.warn({ err, id }, 'RemoveContainer failed'));
    }
    this.#containers.delete(id);
    this.#d.events.publish('/tasks/delete', { container_id: id, pid: res.pid, exit_status: res.exit_status, exited_at: res.exited_at, id });
    return res;
  }

  async #destroySandbox(): Promise<void> {
    const sb = this.#sandbox;
    if (!sb) return;
    this.#sandboxGone = true;
    for (const c of this.#containers.values()) for (const p of [c.init, ...c.execs.values()]) { p.closeIo(); p.markExited(p.status === 'stopped' ? p.exitStatus : 255, this.#onExit); }
    await sb.destroy();
  }

  async pids(): Promise<Msg> {
    return { processes: [{ pid: this.#pid() }] }; // the VMM: guest pids are invisible to the host
  }

  async pause(req: Msg): Promise<Msg> {
    const id = String(req['id']);
    this.#container(id).init.transition('paused');
    await this.#requireSandbox().agent.call('PauseContainer', { container_id: id });
    this.#d.events.publish('/tasks/paused', { container_id: id });
    return {};
  }

  async resume(req: Msg): Promise<Msg> {
    const id = String(req['id']);
    this.#container(id).init.transition('running');
    await this.#requireSandbox().agent.call('ResumeContainer', { container_id: id });
    this.#d.events.publish('/tasks/resumed', { container_id: id });
    return {};
  }

  async resizePty(req: Msg): Promise<Msg> {
    const p = this.#process(String(req['id']), String(req['exec_id'] ?? ''));
    await this.#requireSandbox().agent.call('TtyWinResize', { container_id: p.containerId, exec_id: p.execId, row: Number(req['height'] ?? 0), column: Number(req['width'] ?? 0) });
    return {};
  }

  async closeIO(req: Msg): Promise<Msg> {
    const p = this.#process(String(req['id']), String(req['exec_id'] ?? ''));
    if (req['stdin'] === true) await p.closeStdin(this.#requireSandbox().agent);
    return {};
  }

  async update(req: Msg): Promise<Msg> {
    const id = String(req['id']);
    this.#container(id);
    const resources = agentResources(req['resources'] as { value?: Buffer } | undefined);
    await this.#requireSandbox().agent.call('UpdateContainer', { container_id: id, resources });
    return {};
  }

  /** Agent StatsContainer, re-expressed as the cgroups v1 Metrics containerd decodes (as kata does). */
  async stats(req: Msg): Promise<Msg> {
    const id = String(req['id']);
    this.#container(id);
    const r = await this.#requireSandbox().agent.call('StatsContainer', { container_id: id });
    return { stats: { type_url: 'io.containerd.cgroups.v1.Metrics', value: codec('io.containerd.cgroups.v1.Metrics').encode(cgroupsV1Metrics(r)) } };
  }

  async connect(): Promise<Msg> {
    return { shim_pid: process.pid, task_pid: this.#pid(), version: '' };
  }

  async shutdown(): Promise<Msg> {
    // containerd calls Shutdown after every Delete; the shim ends when nothing is left to serve
    // (no container, or the pod VM is gone: remaining tasks are cleaned up by `shim delete`).
    if (this.#containers.size === 0 || this.#sandboxGone) {
      await this.#destroySandbox();
      setImmediate(() => this.#d.onShutdown());
    }
    return {};
  }
}
