import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PolicyEngine } from './policy-engine.js';

const input = { submods: { cpu0: { 'ear.status': 'affirming' } } };

test('PolicyEngine.evaluate() accepts trustee-style v0 policies users already have', () => {
  const v0 = `package policy
default allow = false
allow {
  input["submods"]["cpu0"]["ear.status"] == "affirming"
}`;
  const engine = new PolicyEngine();
  assert.equal(engine.evaluate([{ path: 'p.rego', source: v0 }], 'data.policy.allow', input, {}), true);
});

test('PolicyEngine.evaluate() understands v1 keywords and holds rego.v1 modules to v1', () => {
  const v1 = `package policy
import rego.v1
default allow := false
allow if input.submods.cpu0["ear.status"] == "affirming"`;
  const engine = new PolicyEngine();
  assert.equal(engine.evaluate([{ path: 'p.rego', source: v1 }], 'data.policy.allow', input, {}), true);
  const v1WithoutIf = `package policy
import rego.v1
allow { true }`;
  assert.throws(() => engine.compile([{ path: 'q.rego', source: v1WithoutIf }]), { code: 'AS_POLICY_INVALID' });
});
