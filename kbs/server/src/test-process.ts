/** Starts the real `kbs` binary for tests and the benchmark; collects stderr for diagnostics. */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface KbsProcess {
  url: string;
  proc: ChildProcess;
  stderr(): string;
  /** SIGKILL, no cleanup: what a crash looks like. */
  kill9(): Promise<void>;
  stop(): Promise<void>;
}

export const KBS_BIN = path.join(path.dirname(fileURLToPath(import.meta.url)), 'bin', 'kbs.js');

export async function startKbsProcess(args: string[], env: Record<string, string> = {}, addListen = true): Promise<KbsProcess> {
  const proc = spawn(process.execPath, [KBS_BIN, ...(addListen ? ['--listen', '127.0.0.1:0'] : []), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, KATA_CC_LOG_LEVEL: 'warn', ...env },
  });
  let err = '';
  proc.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error(`kbs did not start: ${err}`)), 20_000);
    proc.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /kbs listening on (\S+)/.exec(out);
      if (m?.[1] !== undefined) {
        clearTimeout(t);
        resolve(m[1]);
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`kbs exited with ${code}: ${err}`));
    });
  });
  const exited = new Promise<void>((r) => (proc.exitCode !== null ? r() : proc.once('exit', () => r())));
  return {
    url,
    proc,
    stderr: () => err,
    kill9: async () => {
      proc.kill('SIGKILL');
      await exited;
    },
    stop: async () => {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}
