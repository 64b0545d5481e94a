import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { KccError } from '@kata-cc/errors';
import type { Logger } from '@kata-cc/log';
import type { VmExit } from './hypervisor.js';

/** Last `n` lines of a file, empty when missing. */
export async function tail(file: string | undefined, n = 15): Promise<string> {
  if (file === undefined) return '';
  try {
    return (await readFile(file, 'utf8')).trimEnd().split('\n').slice(-n).join('\n');
  } catch {
    return '';
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A VMM child process: own process group (so a shim crash does not take it down mid-write, and
 * `delete` can find it by pid file), stdout/stderr to `<dir>/vmm.log`.
 */
export class VmmProcess {
  readonly #log: Logger;
  #child: ChildProcess | undefined;
  readonly exited: Promise<VmExit>;
  #resolveExit!: (e: VmExit) => void;
  readonly logFile: string;
  readonly pidFile: string;

  constructor(dir: string, log: Logger) {
    this.#log = log;
    this.logFile = path.join(dir, 'vmm.log');
    this.pidFile = path.join(dir, 'vmm.pid');
    this.exited = new Promise((r) => { this.#resolveExit = r; });
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  async spawn(binary: string, args: string[], consoleFile: string | undefined): Promise<void> {
    const fd = openSync(this.logFile, 'a', 0o600);
    try {
      const child = spawn(binary, args, { stdio: ['ignore', fd, fd], detached: true });
      this.#child = child;
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', (cause) => reject(new KccError({ kind: 'FAILED_PRECONDITION', code: 'HV_SPAWN_FAILED', message: `Cannot start "${binary}"`, cause })));
      });
      child.on('exit', (code, signal) => {
        void (async () => {
          const reason = [await tail(this.logFile, 10), await tail(consoleFile, 10)].filter(Boolean).join('\n');
          this.#log.info({ code, signal }, 'VMM exited');
          this.#resolveExit({ code, signal, reason });
        })();
      });
      const { writeFile } = await import('node:fs/promises');
      await writeFile(this.pidFile, `${child.pid}\n`, { mode: 0o600 });
    } finally {
      closeSync(fd);
    }
  }

  /** Waits until `ready()` holds, failing early with the VMM's own words if it exits first. */
  async waitFor(ready: () => boolean, timeoutMs: number, what: string): Promise<void> {
    let exited: VmExit | undefined;
    void this.exited.then((e) => { exited = e; });
    const deadline = Date.now() + timeoutMs;
    while (!ready()) {
      if (exited) throw new KccError({ kind: 'FAILED_PRECONDITION', code: 'HV_VMM_EXITED', message: `The VMM exited before ${what}: ${exited.reason || `code ${exited.code} signal ${exited.signal}`}` });
      if (Date.now() > deadline) throw new KccError({ kind: 'DEADLINE_EXCEEDED', code: 'HV_START_TIMEOUT', message: `Timed out after ${timeoutMs} ms waiting for ${what}` });
      await sleep(10);
    }
  }

  /** TERM, then KILL after `graceMs`; resolves once the process is gone. */
  async stop(graceMs = 2000): Promise<void> {
    const child = this.#child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const done = await Promise.race([this.exited.then(() => true), sleep(graceMs).then(() => false)]);
    if (!done) {
      child.kill('SIGKILL');
      await this.exited;
    }
  }
}

/** Creates a private state directory (0700: sockets inside are the agent's and QMP's doors). */
export async function makeVmDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true, mode: 0o700 });
}

/**
 * Cleanup for a VM whose owner is gone (the shim was killed; containerd runs `shim delete`):
 * kill the VMM recorded in `vmm.pid` if it still runs *and* still names `dir` on its command
 * line (a recycled pid belongs to someone else), then remove the directory.
 */
export async function reapVmDir(dir: string): Promise<{ killed: number | undefined }> {
  let killed: number | undefined;
  const pidFile = path.join(dir, 'vmm.pid');
  if (existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    if (Number.isInteger(pid) && pid > 1) {
      let cmdline = '';
      try {
        cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      } catch {
        // already gone
      }
      if (cmdline.includes(dir)) {
        try {
          process.kill(pid, 'SIGKILL');
          killed = pid;
          for (let i = 0; i < 200 && existsSync(`/proc/${pid}`); i++) await sleep(10);
        } catch {
          // raced with its exit
        }
      }
    }
  }
  await rm(dir, { recursive: true, force: true });
  return { killed };
}
