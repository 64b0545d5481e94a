import { test } from 'node:test';
import assert from 'node:assert/strict';
import { packageErrorCodes } from '@kata-cc/testing';

test('every KBS_ error code thrown by the server is in the README error table', () => {
  const { thrown, readme } = packageErrorCodes(import.meta.url, 'KBS');
  assert.ok(thrown.has('KBS_TOO_MANY_SESSIONS'));
  const missing = [...thrown].filter((c) => !readme.includes(`\`${c}\``));
  assert.deepEqual(missing, []);
});
