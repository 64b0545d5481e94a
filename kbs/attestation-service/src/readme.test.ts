import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fixturePath } from '@kata-cc/testing';

// fixturePath maps dist -> src, so this finds the package's sources and README.
const src = fixturePath(import.meta.url, '.');
const readme = readFileSync(path.join(src, '..', 'README.md'), 'utf8');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const f = path.join(dir, n);
    if (statSync(f).isDirectory()) return n === 'testdata' ? [] : sources(f);
    return n.endsWith('.ts') && !n.endsWith('.test.ts') ? [f] : [];
  });
}

test('every AS_ error code thrown by the attestation service is in the README error table', () => {
  const codes = new Set<string>();
  for (const f of sources(src)) for (const m of readFileSync(f, 'utf8').matchAll(/'(AS_[A-Z_]+)'/g)) codes.add(m[1]!);
  assert.ok(codes.has('AS_POLICY_EXTENSIONS_INVALID'));
  const missing = [...codes].filter((c) => !readme.includes(`\`${c}\``));
  assert.deepEqual(missing, []);
});
