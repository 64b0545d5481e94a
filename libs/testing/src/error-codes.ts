import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fixturePath } from './paths.js';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const file = path.join(dir, name);
    if (statSync(file).isDirectory()) return name === 'testdata' ? [] : sources(file);
    return name.endsWith('.ts') && !name.endsWith('.test.ts') ? [file] : [];
  });
}

/**
 * The error codes with `prefix` that a package's sources quote (`'KBS_POLICY_DENIED'`), and its
 * README text, for tests that keep the README's error table true. `importMetaUrl` is the
 * calling test's, which sits in the package's `src/` (or its `dist/` twin).
 */
export function packageErrorCodes(importMetaUrl: string, prefix: string): { thrown: Set<string>; readme: string } {
  const src = fixturePath(importMetaUrl, '.');
  const pattern = new RegExp(`'(${prefix}_[A-Z0-9_]+)'`, 'g');
  const thrown = new Set<string>();
  for (const file of sources(src)) for (const m of readFileSync(file, 'utf8').matchAll(pattern)) thrown.add(m[1]!);
  return { thrown, readme: readFileSync(path.join(src, '..', 'README.md'), 'utf8') };
}
