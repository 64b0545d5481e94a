import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodePolicyReply } from './get-resource-policy.js';

const rego = 'package policy\n\ndefault allow := false\n';
const b64 = Buffer.from(rego).toString('base64url');

test('our KBS reply {"id","policy"} prints the Rego text', () => {
  assert.deepEqual(decodePolicyReply(Buffer.from(JSON.stringify({ id: 'resource-policy', policy: b64 }))), { text: rego, listOnly: false });
});

test("trustee's reply (a JSON list of policy ids) prints the list and is flagged listOnly", () => {
  assert.deepEqual(decodePolicyReply(Buffer.from('["resource-policy"]')), { text: '["resource-policy"]\n', listOnly: true });
});

test('older {"resource-policy": b64} replies still decode; non-Rego values print as received', () => {
  assert.equal(decodePolicyReply(Buffer.from(JSON.stringify({ 'resource-policy': b64 }))).text, rego);
  const odd = JSON.stringify({ policy: Buffer.from('not rego').toString('base64url') });
  assert.equal(decodePolicyReply(Buffer.from(odd)).text, `${odd}\n`);
});
