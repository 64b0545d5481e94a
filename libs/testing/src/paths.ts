import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';

/**
 * Path of a fixture that lives beside a test's *source* file. Tests run from `dist/`, while
 * fixtures stay in `src/` (tsc does not copy them), so the `dist` segment is mapped back.
 */
export function fixturePath(importMetaUrl: string, relative: string): string {
  const dir = path.dirname(fileURLToPath(importMetaUrl));
  const srcDir = dir.replace(`${path.sep}dist${path.sep}`, `${path.sep}src${path.sep}`).replace(/[/\\]dist$/, `${path.sep}src`);
  return path.join(srcDir, relative);
}

/** The repository root (the folder holding the root package.json with workspaces). */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'tsconfig.base.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('Cannot find the kata-cc repository root');
    dir = up;
  }
  return dir;
}

/** `../shared` beside the repository: vectors, peers, conformance cases (read-only). */
export function sharedDir(...parts: string[]): string {
  const base = process.env['KATA_CC_SHARED'] ?? path.join(repoRoot(), '..', 'shared');
  return path.join(base, ...parts);
}

/** A fresh temporary directory, removed by the returned `cleanup`. */
export async function tempDir(prefix = 'kata-cc-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * The absolute path of a tool a test needs. Throws (never skips) when it is missing: `.ci/run`
 * installs every tool, so a missing one is a broken machine, not a reason to pass silently.
 */
export function requireTool(name: string): string {
  const candidates = [name, `/usr/sbin/${name}`, `/usr/lib/postgresql/15/bin/${name}`];
  for (const c of candidates) {
    if (c.includes('/') && existsSync(c)) return c;
    try {
      const found = execFileSync('sh', ['-c', `command -v ${JSON.stringify(c)}`], { encoding: 'utf8' }).trim();
      if (found) return found;
    } catch {
      // not on PATH; try the next candidate
    }
  }
  throw new Error(`Test needs "${name}" but it is not installed; run .ci/run or install it with apt-get`);
}
