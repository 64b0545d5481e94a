import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Logger } from '@kata-cc/log';

export const AA_BINARY = '/usr/local/bin/attestation-agent';
export const CDH_BINARY = '/usr/local/bin/confidential-data-hub';

/**
 * Starts the attestation agent and the CDH as kata's agent does (paths and flags of
 * guest-components), with the configs from initdata. Their output goes to the console.
 */
export function launchGuestComponents(procs: string, files: Record<string, string>, allowSample: boolean, log: Logger): { children: ChildProcess[]; cdh: boolean } {
  const started: ChildProcess[] = [];
  let cdh = false;
  if (procs === 'none') return { children: started, cdh };
  // Without initdata configs there is no KBS to talk to: AA and CDH would only fail.
  if (!files['aa.toml'] && !files['cdh.toml']) {
    log.info('no aa.toml/cdh.toml in initdata: attestation agent and CDH not started');
    return { children: started, cdh };
  }
  const run = (bin: string, args: string[]): boolean => {
    if (!existsSync(bin)) {
      log.warn({ bin }, 'guest component not in the image; not started');
      return false;
    }
    const child = spawn(bin, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('exit', (code, signal) => log.warn({ bin, code, signal }, 'guest component exited'));
    log.info({ bin, args }, 'guest component started');
    started.push(child);
    return true;
  };
  const aaArgs = [...(allowSample ? ['--allow-sample'] : []), ...(files['initdata.toml'] ? ['--initdata-toml', files['initdata.toml']] : []), ...(files['aa.toml'] ? ['-c', files['aa.toml']] : [])];
  run(AA_BINARY, aaArgs);
  if (procs !== 'attestation-agent') cdh = run(CDH_BINARY, files['cdh.toml'] ? ['-c', files['cdh.toml']] : []);
  return { children: started, cdh };
}
