import { spawn } from 'node:child_process';
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
        else reject(agentError('AGENT_RUNC_FAILED', `runc ${args[0] ?? ''} failed: ${err.trim().split('\n').slice(-2).join(' ').slice(0, 400)}`, undefined, { exit: code }));
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
