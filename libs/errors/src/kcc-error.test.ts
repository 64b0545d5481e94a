import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KccError, hasCode, isKccError } from './index.js';

test('KccError() keeps kind, code and cause', () => {
  const cause = new Error('inner');
  const err = new KccError({ kind: 'NOT_FOUND', code: 'KBS_RESOURCE_NOT_FOUND', message: 'Resource "a/b/c" not found', cause });
  assert.equal(err.kind, 'NOT_FOUND');
  assert.equal(err.code, 'KBS_RESOURCE_NOT_FOUND');
  assert.equal(err.cause, cause);
  assert.ok(isKccError(err));
  assert.ok(hasCode(err, 'KBS_RESOURCE_NOT_FOUND'));
  assert.equal(hasCode(new Error('x'), 'KBS_RESOURCE_NOT_FOUND'), false);
  assert.deepEqual(JSON.parse(JSON.stringify(err)), { code: 'KBS_RESOURCE_NOT_FOUND', kind: 'NOT_FOUND', message: 'Resource "a/b/c" not found' });
});

test('KccError() rejects a code that is not PREFIX_UPPER_SNAKE', () => {
  assert.throws(() => new KccError({ kind: 'INTERNAL', code: 'oops', message: 'x' }), TypeError);
});
