import { test } from 'node:test';
import assert from 'node:assert/strict';
import { packageErrorCodes } from '@kata-cc/testing';

test('every AS_ error code thrown by the attestation service is in the README error table', () => {
  const { thrown, readme } = packageErrorCodes(import.meta.url, 'AS');
  assert.ok(thrown.has('AS_POLICY_EXTENSIONS_INVALID'));
  const missing = [...thrown].filter((c) => !readme.includes(`\`${c}\``));
  assert.deepEqual(missing, []);
});
