import { spawn } from 'node:child_process';
import { KccError } from '@kata-cc/errors';

export interface RunOptions {
  cwd?: string;
  input?: Buffer | string;
  env?: NodeJS.ProcessEnv;
}

/** Runs a tool to completion and returns its stdout; a non-zero exit becomes IMGB_TOOL_FAILED. */
export function run(cmd: string, args: string[], options: RunOptions = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (d: Buffer) => out.push(d));
    child.stderr?.on('data', (d: Buffer) => err.push(d));
    child.on('error', (cause) =>
      reject(new KccError({ kind: 'FAILED_PRECONDITION', code: 'IMGB_TOOL_MISSING', message: `Cannot run ${cmd}`, cause })));
    child.on('close', (code) => {
      if (code === 0) return resolve(Buffer.concat(out));
      const stderr = Buffer.concat(err).toString('utf8').trim().split('\n').slice(-5).join('\n');
      reject(new KccError({
        kind: 'INTERNAL',
        code: 'IMGB_TOOL_FAILED',
        message: `${cmd} ${args.slice(0, 3).join(' ')} failed (exit ${code}): ${stderr}`,
        details: { cmd, code },
      }));
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}
