import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
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

  start(cmd: string, args: string[], env: NodeJS.ProcessEnv): void {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env });
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
      child.on('error', () => { this.#status = 255; this.stdout.end(); this.stderr.end(); resolve(255); });
      child.on('close', (code, signal) => {
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

  writeStdin(data: Buffer): Promise<number> {
    const stdin = this.#child?.stdin;
    if (!stdin || this.#stdinClosed || stdin.destroyed) throw agentError('AGENT_STREAM_CLOSED', `Stdin of ${this.execId} is closed`);
    return new Promise((resolve, reject) => stdin.write(data, (err) => (err ? reject(agentError('AGENT_STREAM_CLOSED', `Stdin of ${this.execId} is closed`, err)) : resolve(data.length))));
  }

  closeStdin(): void {
    this.#stdinClosed = true;
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
