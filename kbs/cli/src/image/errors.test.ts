import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fixturePath } from '@kata-cc/testing';
import { ENCIMG_ERROR_CODES } from './errors.js';

test('README.md documents exactly the ENCIMG_ error codes of encrypt-image', () => {
  const readme = readFileSync(path.join(fixturePath(import.meta.url, '.'), '..', '..', 'README.md'), 'utf8');
  const documented = new Set([...readme.matchAll(/^\| `(ENCIMG_[A-Z0-9_]+)` \|/gm)].map((m) => m[1]));
  assert.deepEqual([...documented].sort(), [...ENCIMG_ERROR_CODES].sort());
});
