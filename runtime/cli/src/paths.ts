import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where the other programs kata-cc runs live. From a repository checkout they are beside us;
 * an installed payload sets KATA_CC_PREFIX (bin/ and share/kata-cc/ below it). The host CLI
 * never imports the KBS or the guest packages: it runs them as processes.
 */
export function repoRoot(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
}

export interface ProgramPaths {
  kbs: string[];
  kbsCli: string[];
  buildGuest: string[];
  /** An installed guest image directory (vmlinux, initrd.img, rootfs.img, manifest.json), if any. */
  installedGuest: string | undefined;
}

export function programPaths(env: NodeJS.ProcessEnv = process.env): ProgramPaths {
  const repo = repoRoot();
  const node = process.execPath;
  const prefix = env['KATA_CC_PREFIX'];
  const installed = prefix ? path.join(prefix, 'share', 'kata-cc') : undefined;
  return {
    kbs: [node, path.join(repo, 'kbs/server/bin/kbs.js')],
    kbsCli: [node, path.join(repo, 'kbs/cli/bin/kbs-cli.js')],
    buildGuest: [node, path.join(repo, 'guest-components/image-builder/bin/kata-cc-build-guest.js')],
    installedGuest: installed && existsSync(path.join(installed, 'manifest.json')) ? installed : undefined,
  };
}
