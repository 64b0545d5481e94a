import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { agentError } from '../errors.js';

/** runc invocations of the agent (state lives under `root`, /run/runc by default). */
export class Runc {
  readonly binary: string;
  readonly root: string;

  constructor(binary = 'runc', root = '/run/runc') {
    this.binary = binary;
    this.root = root;
  }

  args(...rest: string[]): string[] {
    return ['--root', this.root, ...rest];
  }

  /**
   * Arguments with runc's own log in `logFile` (JSON lines). A foreground `runc run`/`runc exec`
   * shares its stderr with the container process, whose stderr the shim drains concurrently
   * (ReadStderr): runc's error message must not depend on winning that race, so it is read from
   * this file instead.
   */
  argsWithLog(logFile: string, ...rest: string[]): string[] {
    return ['--root', this.root, '--log', logFile, '--log-format', 'json', ...rest];
  }

  /** Runs a short runc command; non-zero exit becomes AGENT_RUNC_FAILED with runc's message. */
  exec(args: string[], input?: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const child = spawn(this.binary, this.args(...args), { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
      child.stderr?.on('data', (d: Buffer) => { err += d.toString(); });
      child.on('error', (cause) => reject(agentError('AGENT_RUNC_FAILED', `Cannot run ${this.binary}`, cause)));
      child.on('close', (code) => {
        if (code === 0) resolve(out);
        else {
          const reason = err.trim().split('\n').slice(-2).join(' ').slice(0, 400) || `exit status ${String(code)}, no message`;
          reject(agentError('AGENT_RUNC_FAILED', `runc ${args[0] ?? ''} failed: ${reason}`, undefined, { exit: code }));
        }
      });
      if (input !== undefined) child.stdin?.end(input);
    });
  }

  async state(id: string): Promise<{ status: string; pid: number } | undefined> {
    try {
      return JSON.parse(await this.exec(['state', id])) as { status: string; pid: number };
    } catch {
      return undefined;
    }
  }
}

/**
 * The last error runc logged in a `--log-format json` file (runc 1.1 may leave the last record
 * without a newline), or '' when there is none. Warnings are kept as a fallback.
 */
export async function runcLogError(logFile: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(logFile, 'utf8');
  } catch {
    return '';
  }
  let error = '';
  let warning = '';
  for (const line of text.split(/\n|(?<=\})(?=\{)/)) {
    if (!line.trim()) continue;
    try {
      const rec = JSON.parse(line) as { level?: unknown; msg?: unknown };
      if (typeof rec.msg !== 'string' || !rec.msg) continue;
      if (rec.level === 'error' || rec.level === 'fatal' || rec.level === 'panic') error = rec.msg;
      else if (rec.level === 'warning') warning = rec.msg;
    } catch {
      // Not JSON (a partial record): skip.
    }
  }
  return (error || warning).slice(0, 400);
}
