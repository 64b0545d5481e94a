import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fixturePath } from '@kata-cc/testing';
import { SNAPSHOTTER_ERROR_CODES } from './codes.js';

test('README error table, the exported list and the codes thrown in the sources agree', () => {
  const readme = readFileSync(fixturePath(import.meta.url, '../README.md'), 'utf8');
  const table = [...readme.matchAll(/^\| `(SNAP_[A-Z_]+)` \|/gm)].map((m) => m[1]);
  assert.deepEqual([...table].sort(), [...SNAPSHOTTER_ERROR_CODES].sort());
  const src = readFileSync(fixturePath(import.meta.url, 'store.ts'), 'utf8');
  const thrown = new Set([...src.matchAll(/'(SNAP_[A-Z_]+)'/g)].map((m) => m[1]));
  assert.deepEqual([...thrown].sort(), [...SNAPSHOTTER_ERROR_CODES].sort());
});
