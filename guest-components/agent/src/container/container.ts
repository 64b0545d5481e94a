import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { agentError } from '../errors.js';
import { AgentProcess } from './process.js';
import { runcLogError, type Runc } from './runc.js';
import type { OciSpec } from './oci-spec.js';

/** How long `start()` waits for runc's pid file before giving up (see start()). */
const START_BACKSTOP_MS = 300_000;

export type ContainerStatus = 'created' | 'running' | 'stopped';

/** A container of the sandbox: its bundle, init process and exec'd processes. */
export class Container {
  readonly id: string;
  readonly bundle: string;
  readonly spec: OciSpec;
  readonly init: AgentProcess;
  readonly execs = new Map<string, AgentProcess>();
  readonly #runc: Runc;
  #status: ContainerStatus = 'created';
  oomKills = 0;

  constructor(id: string, bundle: string, spec: OciSpec, runc: Runc, initExecId: string) {
    this.id = id;
    this.bundle = bundle;
    this.spec = spec;
    this.#runc = runc;
    this.init = new AgentProcess(initExecId || id);
  }

  get status(): ContainerStatus {
    if (this.#status === 'running' && this.init.exited) this.#status = 'stopped';
    return this.#status;
  }

  /** The container's own cgroup (runc's leaf; gone once the container exited). */
  get cgroupDir(): string {
    return path.join('/sys/fs/cgroup', this.spec.linux?.cgroupsPath ?? `/kata_cc/${this.id}/ctr`);
  }

  /** The leaf's parent, which outlives it: OOM kills are counted here (memory.events is hierarchical). */
  get cgroupParent(): string {
    return path.dirname(this.cgroupDir);
  }

  process(execId: string): AgentProcess {
    if (!execId || execId === this.init.execId) return this.init;
    const p = this.execs.get(execId);
    if (!p) throw agentError('AGENT_PROCESS_NOT_FOUND', `Container ${this.id} has no process ${execId}`);
    return p;
  }

  /**
   * `runc run` in the foreground; returns once runc wrote the pid file (the container process
   * exists), even if it already exited; a runc that exits without one failed to start it. runc's
   * reason comes from its `--log` file, never from the process's stderr: that stream belongs to
   * the container, and the shim's ReadStderr (issued right after CreateContainer) used to take
   * runc's message first, leaving AGENT_RUNC_FAILED without it.
   */
  async start(): Promise<void> {
    if (this.#status !== 'created') throw agentError('AGENT_INVALID_STATE', `Container ${this.id} is ${this.#status}, not created`);
    // Claimed before the first await: a concurrent StartContainer sees 'running' and is refused.
    this.#status = 'running';
    const pidFile = path.join(this.bundle, 'init.pid');
    const logFile = path.join(this.bundle, 'runc-init.log');
    // A record left by an earlier attempt must not be mistaken for this run's.
    await Promise.all([rm(pidFile, { force: true }), rm(logFile, { force: true })]);
    try {
      this.init.start(this.#runc.binary, this.#runc.argsWithLog(logFile, 'run', '--pid-file', pidFile, '--bundle', this.bundle, this.id), process.env, this.spec.process?.terminal === true);
    } catch (err) {
      this.#status = 'stopped';
      throw err;
    }
    // A backstop only: the shim's StartContainer request carries the deadline that counts. It is
    // generous because a loaded TCG guest can take over a minute to get runc to write its pid.
    const deadline = Date.now() + START_BACKSTOP_MS;
    while (Date.now() < deadline) {
      if (existsSync(pidFile)) return;
      if (this.init.exited) {
        if (existsSync(pidFile)) return;
        const status = await this.init.wait();
        this.#status = 'stopped';
        const reason = (await runcLogError(logFile)) || this.init.spawnError || `runc exited with ${status} and logged no error`;
        throw agentError('AGENT_RUNC_FAILED', `Container ${this.id} failed to start: ${reason}`, undefined, { exit: status });
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    throw agentError('AGENT_RUNC_FAILED', `Container ${this.id} did not start within ${START_BACKSTOP_MS / 1000} s`);
  }

  /** `runc exec` of an OCI process in the running container. */
  async exec(execId: string, processSpec: Record<string, unknown>): Promise<AgentProcess> {
    if (this.status !== 'running') throw agentError('AGENT_INVALID_STATE', `Container ${this.id} is not running`);
    if (this.execs.has(execId) || execId === this.init.execId) throw agentError('AGENT_PROCESS_EXISTS', `Process ${execId} already exists in ${this.id}`);
    const file = path.join(this.bundle, `exec-${execId}.json`);
    await writeFile(file, JSON.stringify(processSpec));
    const p = new AgentProcess(execId);
    p.start(this.#runc.binary, this.#runc.args('exec', '--process', file, '--pid-file', path.join(this.bundle, `exec-${execId}.pid`), this.id), process.env, processSpec['terminal'] === true);
    this.execs.set(execId, p);
    return p;
  }

  async signal(execId: string, sig: number): Promise<void> {
    const p = this.process(execId);
    if (p === this.init) {
      if (this.status !== 'running') return; // kata: signalling a stopped process is a no-op
      await this.#runc.exec(['kill', ...(execId ? [] : ['--all']), this.id, String(sig)]).catch((e: unknown) => {
        if (!this.init.exited) throw e;
      });
      return;
    }
    if (p.exited) return;
    const { readFile } = await import('node:fs/promises');
    const pid = Number((await readFile(path.join(this.bundle, `exec-${execId}.pid`), 'utf8').catch(() => '')).trim());
    if (pid > 0) process.kill(pid, sig);
    else p.signalRunc(sig);
  }

  /** Kills everything and deletes the runc state; safe to call in any status. */
  async destroy(): Promise<void> {
    if (this.init.started && !this.init.exited) {
      await this.#runc.exec(['kill', '--all', this.id, 'KILL']).catch(() => undefined);
      await Promise.race([this.init.wait(), new Promise((r) => setTimeout(r, 5000))]);
      if (!this.init.exited) this.init.signalRunc('SIGKILL');
    }
    for (const e of this.execs.values()) if (!e.exited) e.signalRunc('SIGKILL');
    await this.#runc.exec(['delete', '--force', this.id]).catch(() => undefined);
    const { rmdir } = await import('node:fs/promises');
    await rmdir(this.cgroupParent).catch(() => undefined);
    this.#status = 'stopped';
  }
}
