import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { inspect } from 'node:util';
import { Redacted, createLogger } from './index.js';

test('createLogger() redacts secret fields', async () => {
  const out = new PassThrough();
  const chunks: string[] = [];
  out.on('data', (c: Buffer) => chunks.push(c.toString()));
  const log = createLogger('t', { destination: out });
  log.info({ token: 'abc', nested: { key: 'k1' }, path: 'a/b/c' }, 'hello');
  await new Promise((r) => setImmediate(r));
  const line = chunks.join('');
  assert.ok(line.includes('"path":"a/b/c"'));
  assert.ok(!line.includes('abc') && !line.includes('k1'));
});

test('Redacted() hides its value from string, JSON and inspect', () => {
  const r = new Redacted('s3cret');
  assert.equal(String(r), '<redacted>');
  assert.equal(JSON.stringify({ r }), '{"r":"<redacted>"}');
  assert.ok(!inspect(r).includes('s3cret'));
  assert.equal(r.reveal(), 's3cret');
});
