/**
 * Node binaries of this repository as child processes for tests and benchmarks: spawn, wait
 * until the output says the process is ready, keep its output for diagnostics, stop it (also
 * when it never became ready, so a failed start leaks no process). `startKbsProcess` runs the
 * real `kbs` launcher by path: libs/ imports no column package (.dependency-cruiser.cjs).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from './paths.js';

/** The `kbs` launcher (kbs/server/bin/kbs.js; run `tsc -b kbs/server` first). */
export const KBS_BIN = path.join(repoRoot(), 'kbs', 'server', 'bin', 'kbs.js');

export interface NodeProcessOptions {
  /** Output that means "ready"; the match is returned. */
  ready: RegExp;
  /** Which output `ready` is looked for in (default: both, interleaved as they arrive). */
  readyOn?: 'stdout' | 'stderr' | 'both';
  /** Added to this process's environment. */
  env?: Record<string, string>;
  /** Default 20 s. */
  startTimeoutMs?: number;
}

export interface NodeProcess {
  proc: ChildProcess;
  /** The `ready` match. */
  ready: RegExpExecArray;
  stdout(): string;
  stderr(): string;
  /** SIGKILL, no cleanup: what a crash looks like. */
  kill9(): Promise<void>;
  /** SIGTERM (SIGKILL after 10 s); resolves once the process has exited. */
  stop(): Promise<void>;
}

/** Starts `node <bin> <args>` and resolves once its output matches `options.ready`. */
export async function startNodeProcess(bin: string, args: string[], options: NodeProcessOptions): Promise<NodeProcess> {
  const proc = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const out = { stdout: '', stderr: '', both: '' };
  const running = (): boolean => proc.exitCode === null && proc.signalCode === null;
  const stopWith = async (signal: NodeJS.Signals): Promise<void> => {
    if (running()) proc.kill(signal);
    const force = setTimeout(() => running() && proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(force);
  };
  const name = path.basename(bin).replace(/\.[cm]?js$/, '');
  const readyOn = options.readyOn ?? 'both';
  const timeoutMs = options.startTimeoutMs ?? 20_000;
  const ready = await new Promise<RegExpExecArray>((resolve, reject) => {
    const fail = (why: string): void => {
      clearTimeout(timer);
      reject(new Error(`${name} (pid ${proc.pid}) ${why}: ${out.both}`));
    };
    const timer = setTimeout(() => fail(`was not ready in ${timeoutMs / 1000} s`), timeoutMs);
    const watch = (stream: 'stdout' | 'stderr') => (d: Buffer): void => {
      out[stream] += d.toString();
      out.both += d.toString();
      const m = readyOn === 'both' || readyOn === stream ? options.ready.exec(out[readyOn]) : null;
      if (m !== null) {
        clearTimeout(timer);
        resolve(m);
      }
    };
    proc.stdout.on('data', watch('stdout'));
    proc.stderr.on('data', watch('stderr'));
    proc.once('error', (e) => fail(`could not start (${e.message})`));
    proc.once('exit', (code, signal) => fail(`exited with ${code ?? signal}`));
  }).catch(async (e: unknown) => {
    await stopWith('SIGKILL');
    throw e;
  });
  return {
    proc,
    ready,
    stdout: () => out.stdout,
    stderr: () => out.stderr,
    kill9: () => stopWith('SIGKILL'),
    stop: () => stopWith('SIGTERM'),
  };
}

export interface KbsProcessOptions {
  /** Added to the environment (KATA_CC_LOG_LEVEL is `warn` unless given here). */
  env?: Record<string, string>;
  /** Prepend `--listen 127.0.0.1:0` (default true; false when the args or a --config choose it). */
  listen?: boolean;
}

export interface KbsProcess extends NodeProcess {
  /** The base URL the KBS printed (`kbs listening on <url>`). */
  url: string;
}

/** Starts the real `kbs` binary (on a free loopback port unless `listen: false`). */
export async function startKbsProcess(args: string[], options: KbsProcessOptions = {}): Promise<KbsProcess> {
  const listen = options.listen === false ? [] : ['--listen', '127.0.0.1:0'];
  const p = await startNodeProcess(KBS_BIN, [...listen, ...args], {
    ready: /kbs listening on (\S+)/,
    readyOn: 'stdout',
    env: { KATA_CC_LOG_LEVEL: 'warn', ...options.env },
  });
  return { ...p, url: p.ready[1] ?? '' };
}
