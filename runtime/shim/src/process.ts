import { KccError } from '@kata-cc/errors';
import type { Logger } from '@kata-cc/log';
import type { AgentClient } from '@kata-cc/sandbox';
import { closeStdio, openStdio, writeAll, type OpenedStdio, type StdioPaths } from './stdio.js';

/** Task status, as `containerd.v1.types.Status` numbers it. */
export const STATUS = { unknown: 0, created: 1, running: 2, stopped: 3, paused: 4 } as const;
export type ProcessStatus = 'created' | 'running' | 'stopped' | 'paused';

/** Legal transitions (containerd `init_state.go`); anything else is FAILED_PRECONDITION. */
const TRANSITIONS: Record<ProcessStatus, readonly ProcessStatus[]> = {
  created: ['running', 'stopped'],
  running: ['stopped', 'paused'],
  paused: ['running', 'stopped'],
  stopped: [],
};

/** Exit status reported when the VM died under a process (kata reports 255 too). */
export const EXIT_VM_DIED = 255;
const IO_DRAIN_MS = 2000;

/**
 * One process of a task (the container's init, or an exec): its state machine, the stdio
 * pumps between containerd's FIFOs and the agent's Read/Write stream calls, and its wait.
 */
export class ShimProcess {
  readonly containerId: string;
  /** "" for the container's init process. */
  readonly execId: string;
  readonly stdio: StdioPaths;
  /** OCI process spec of an exec (from ExecProcessRequest.spec). */
  spec: Record<string, unknown> | undefined;
  status: ProcessStatus = 'created';
  exitStatus = 0;
  exitedAt: Date | undefined;
  readonly exited: Promise<void>;
  #resolveExited!: () => void;
  #io: OpenedStdio = {};
  #stdinChain: Promise<void> = Promise.resolve();
  #stdinSocket: import('node:net').Socket | undefined;
  #stdinClosed = false;
  #pumps: Promise<void>[] = [];

  constructor(containerId: string, execId: string, stdio: StdioPaths) {
    this.containerId = containerId;
    this.execId = execId;
    this.stdio = stdio;
    this.exited = new Promise((r) => { this.#resolveExited = r; });
  }

  transition(to: ProcessStatus): void {
    if (!TRANSITIONS[this.status].includes(to)) {
      throw new KccError({ kind: 'FAILED_PRECONDITION', code: 'SHIM_INVALID_STATE', message: `Process "${this.execId || this.containerId}" cannot go from ${this.status} to ${to}` });
    }
    this.status = to;
  }

  /** Opens the FIFOs before the process starts, so no early output is lost. */
  openIo(): void {
    this.#io = openStdio(this.stdio);
  }

  /** Pumps stdio and waits for the exit in the background; `onExit` runs once, after output drained. */
  run(agent: AgentClient, log: Logger, onExit: (p: ShimProcess) => void): void {
    const ids = { container_id: this.containerId, exec_id: this.execId };
    const pump = async (method: 'ReadStdout' | 'ReadStderr', target: OpenedStdio['stdout']): Promise<void> => {
      for (;;) {
        let res;
        try {
          res = await agent.call(method, { ...ids, len: 32 * 1024 }, 0);
        } catch {
          break; // EOF is an error in the agent API
        }
        const data = res['data'] as Buffer;
        if (target && data.length) await writeAll(target, data).catch(() => undefined);
      }
      target?.end();
    };
    this.#pumps = [pump('ReadStdout', this.#io.stdout)];
    if (!this.stdio.terminal) this.#pumps.push(pump('ReadStderr', this.#io.stderr));
    if (this.#io.stdin) {
      void this.#io.stdin.then((stdin) => {
        if (!stdin) return;
        this.#stdinSocket = stdin;
        stdin.on('data', (d: Buffer) => {
          stdin.pause();
          this.#stdinChain = this.#stdinChain
            .then(() => agent.call('WriteStdin', { ...ids, data: d }).then(() => undefined))
            .catch((err: unknown) => log.debug({ err }, 'WriteStdin failed'))
            .finally(() => stdin.resume());
        });
        // The writer closed the FIFO (ctr at the end of its input): the process sees EOF.
        stdin.on('end', () => { void this.closeStdin(agent).catch(() => undefined); });
      });
    }
    void (async () => {
      let status = EXIT_VM_DIED;
      try {
        const res = await agent.call('WaitProcess', ids, 0);
        status = Number(res['status']);
      } catch (err) {
        log.warn({ err, container: this.containerId, exec: this.execId }, 'WaitProcess failed: the VM or agent is gone');
      }
      await Promise.race([Promise.all(this.#pumps), new Promise((r) => setTimeout(r, IO_DRAIN_MS))]);
      this.markExited(status, onExit);
    })();
  }

  /** Records the exit once (WaitProcess, VM death or kill of a never-started process). */
  markExited(status: number, onExit?: (p: ShimProcess) => void): void {
    if (this.status === 'stopped') return;
    this.status = 'stopped';
    this.exitStatus = status;
    this.exitedAt = new Date();
    closeStdio(this.#io);
    this.#resolveExited();
    onExit?.(this);
  }

  /** CloseIO: stdin ends after the writes already queued. */
  async closeStdin(agent: AgentClient): Promise<void> {
    if (this.#stdinClosed) return;
    this.#stdinClosed = true;
    this.#io.cancelStdin?.();
    await this.#stdinChain;
    this.#stdinSocket?.destroy();
    if (this.status === 'running') await agent.call('CloseStdin', { container_id: this.containerId, exec_id: this.execId });
  }

  closeIo(): void {
    closeStdio(this.#io);
  }
}
