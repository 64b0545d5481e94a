import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants as fsConstants, openSync } from 'node:fs';
import { constants } from 'node:os';
import { loadNativeAddon, writeAll, type NativeAddon } from '@kata-cc/vsock';
import { agentError } from '../errors.js';
import { StreamBuffer } from './stream-buffer.js';

/**
 * One process of a container (its init or an exec), run by a foreground `runc run` / `runc exec`
 * that is a child of the agent: runc passes the pipes through to the process and exits with
 * its status (128+signal when killed), so WaitProcess needs no reaper.
 */
export class AgentProcess {
  readonly execId: string;
  readonly stdout = new StreamBuffer();
  readonly stderr = new StreamBuffer();
  #child: ChildProcess | undefined;
  #exit: Promise<number> | undefined;
  #status: number | undefined;
  #stdinClosed = false;
  #pty: { master: number; addon: NativeAddon } | undefined;
  /** Why the process could not be spawned at all, if it could not. */
  spawnError: string | undefined;

  constructor(execId: string) {
    this.execId = execId;
  }

  get started(): boolean {
    return this.#child !== undefined;
  }

  get exited(): boolean {
    return this.#status !== undefined;
  }

  get runcPid(): number | undefined {
    return this.#child?.pid;
  }

  /**
   * `terminal`: runc relays a terminal process between the container's pty and runc's own stdio,
   * and needs one of them to be a terminal (it sizes the container's pty from it): runc's stdin is
   * the slave of a pty whose master the agent keeps (stdin writes, resizes).
   */
  start(cmd: string, args: string[], env: NodeJS.ProcessEnv, terminal = false): void {
    let stdin: 'pipe' | number = 'pipe';
    if (terminal) {
      const addon = loadNativeAddon();
      const pty = addon.openpty();
      this.#pty = { master: pty.master, addon };
      stdin = openSync(pty.slave, fsConstants.O_RDWR | fsConstants.O_NOCTTY);
    }
    const child = spawn(cmd, args, { stdio: [stdin, 'pipe', 'pipe'], env });
    if (typeof stdin === 'number') closeSync(stdin);
    this.#child = child;
    const pipe = (src: NodeJS.ReadableStream & { pause(): void; resume(): void }, dst: StreamBuffer): void => {
      dst.onDrain = () => src.resume();
      src.on('data', (d: Buffer) => { dst.push(d); if (dst.full) src.pause(); });
      src.on('end', () => dst.end());
      src.on('error', () => dst.end());
    };
    if (child.stdout) pipe(child.stdout, this.stdout);
    if (child.stderr) pipe(child.stderr, this.stderr);
    child.stdin?.on('error', () => undefined);
    this.#exit = new Promise<number>((resolve) => {
      child.on('error', (err) => {
        // spawn failed (ENOENT, EAGAIN under load): no 'close' follows; the reason is kept for the caller.
        this.spawnError = `cannot run ${cmd}: ${err.message}`;
        this.#status = 255;
        this.stdout.end();
        this.stderr.end();
        resolve(255);
      });
      child.on('close', (code, signal) => {
        if (this.#pty) this.#pty.addon.close(this.#pty.master);
        // runc reports the container's signal death as 128+n; runc killed itself looks the same.
        this.#status = code ?? (signal ? 128 + signalNumber(signal) : 255);
        resolve(this.#status);
      });
    });
  }

  async wait(signal?: AbortSignal): Promise<number> {
    if (!this.#exit) throw agentError('AGENT_INVALID_STATE', `Process ${this.execId} has not been started`);
    if (!signal) return this.#exit;
    return Promise.race([
      this.#exit,
      new Promise<number>((_, reject) => signal.addEventListener('abort', () => reject(agentError('AGENT_CANCELLED', 'WaitProcess cancelled')), { once: true })),
    ]);
  }

  get terminal(): boolean {
    return this.#pty !== undefined;
  }

  resize(rows: number, cols: number): void {
    if (!this.#pty) throw agentError('AGENT_TTY_UNSUPPORTED', `Process ${this.execId} has no terminal`);
    this.#pty.addon.setWinsize(this.#pty.master, rows, cols);
    // runc copies the size of its stdin terminal to the container's pty on SIGWINCH.
    this.#child?.kill('SIGWINCH');
  }

  writeStdin(data: Buffer): Promise<number> {
    const pty = this.#pty;
    if (pty) {
      if (this.#stdinClosed) throw agentError('AGENT_STREAM_CLOSED', `Stdin of ${this.execId} is closed`);
      return new Promise((resolve, reject) => writeAll(pty.master, data, (err) => (err ? reject(agentError('AGENT_STREAM_CLOSED', `Stdin of ${this.execId} is closed`, err)) : resolve(data.length))));
    }
    const stdin = this.#child?.stdin;
    if (!stdin || this.#stdinClosed || stdin.destroyed) throw agentError('AGENT_STREAM_CLOSED', `Stdin of ${this.execId} is closed`);
    return new Promise((resolve, reject) => stdin.write(data, (err) => (err ? reject(agentError('AGENT_STREAM_CLOSED', `Stdin of ${this.execId} is closed`, err)) : resolve(data.length))));
  }

  closeStdin(): void {
    if (this.#stdinClosed) return;
    this.#stdinClosed = true;
    if (this.#pty) {
      // End of input on a terminal is ^D (the line discipline turns it into EOF for the reader).
      writeAll(this.#pty.master, Buffer.from([4]), () => undefined);
      return;
    }
    this.#child?.stdin?.end();
  }

  /** Signals runc itself (it forwards catchable signals to the process). */
  signalRunc(sig: NodeJS.Signals | number): void {
    this.#child?.kill(sig);
  }
}

export function signalNumber(sig: string): number {
  return (constants.signals as Record<string, number>)[sig] ?? 0;
}
