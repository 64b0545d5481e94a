import { existsSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';

export interface GuestComponent {
  /** Bundle file name under /opt/kata-cc/bin. */
  bundle: string;
  /** Compiled entry point, relative to the repository root. */
  entry: string;
  /** kata's path for the binary, if it has one (a launcher script is placed there). */
  launcher?: string;
}

export const GUEST_COMPONENTS: GuestComponent[] = [
  { bundle: 'kata-agent.mjs', entry: 'guest-components/agent/dist/bin/kata-agent.js', launcher: '/usr/local/bin/kata-agent' },
  { bundle: 'attestation-agent.mjs', entry: 'attestation-agent/agent/dist/bin/attestation-agent.js', launcher: '/usr/local/bin/attestation-agent' },
  { bundle: 'confidential-data-hub.mjs', entry: 'guest-components/cdh/dist/bin/confidential-data-hub.js', launcher: '/usr/local/bin/confidential-data-hub' },
];

/**
 * One ESM bundle per guest component (tree-shaken, no node_modules in the guest). CommonJS
 * dependencies call `require` for Node built-ins, so the banner provides one.
 */
export async function bundleComponents(repo: string, outDir: string, required: string[]): Promise<GuestComponent[]> {
  const present: GuestComponent[] = [];
  for (const c of GUEST_COMPONENTS) {
    const entry = path.join(repo, c.entry);
    if (!existsSync(entry)) {
      if (required.includes(c.bundle)) throw new Error(`Guest component ${c.entry} is not built (run npx tsc -b first)`);
      continue;
    }
    await build({
      entryPoints: [entry],
      outfile: path.join(outDir, c.bundle),
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'esm',
      minify: false,
      legalComments: 'none',
      logLevel: 'error',
      external: ['*.node'],
      banner: { js: "import { createRequire as __kccCreateRequire } from 'node:module'; const require = __kccCreateRequire(import.meta.url);" },
    });
    present.push(c);
  }
  return present;
}
