import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Logger } from '@kata-cc/log';

export const AA_BINARY = '/usr/local/bin/attestation-agent';
export const CDH_BINARY = '/usr/local/bin/confidential-data-hub';

/**
 * Starts the attestation agent and the CDH as kata's agent does (paths and flags of
 * guest-components), with the configs from initdata. Their output goes to the console.
 */
export function launchGuestComponents(procs: string, files: Record<string, string>, log: Logger): ChildProcess[] {
  const started: ChildProcess[] = [];
  if (procs === 'none') return started;
  const run = (bin: string, args: string[]): void => {
    if (!existsSync(bin)) {
      log.warn({ bin }, 'guest component not in the image; not started');
      return;
    }
    const child = spawn(bin, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('exit', (code, signal) => log.warn({ bin, code, signal }, 'guest component exited'));
    log.info({ bin, args }, 'guest component started');
    started.push(child);
  };
  const aaArgs = [...(files['initdata.toml'] ? ['--initdata-toml', files['initdata.toml']] : []), ...(files['aa.toml'] ? ['-c', files['aa.toml']] : [])];
  run(AA_BINARY, aaArgs);
  if (procs !== 'attestation-agent') run(CDH_BINARY, files['cdh.toml'] ? ['-c', files['cdh.toml']] : []);
  return started;
}
