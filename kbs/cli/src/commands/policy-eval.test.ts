import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot, sharedDir, tempDir } from '@kata-cc/testing';

let tmp: { dir: string; cleanup: () => Promise<void> };
before(async () => {
  tmp = await tempDir('kcc-cli-policy-eval-');
});
after(async () => {
  await tmp.cleanup();
});

/** Runs `policy eval` through commander exactly as kbs-cli wires it (registerPolicyEval). */
function policyEval(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const mod = pathToFileURL(path.join(repoRoot(), 'kbs/cli/dist/commands/policy-eval.js')).href;
  const script = `
    import { Command } from 'commander';
    import { registerPolicyEval } from ${JSON.stringify(mod)};
    const program = new Command('kbs-cli').exitOverride();
    registerPolicyEval(program);
    try { await program.parseAsync(process.argv.slice(1), { from: 'user' }); } catch { process.exitCode = 2; }
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, 'policy', 'eval', ...args], { encoding: 'utf8', cwd: path.join(repoRoot(), 'kbs/cli') });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function file(name: string, text: string): string {
  const p = path.join(tmp.dir, name);
  writeFileSync(p, text);
  return p;
}

const RESOURCE_POLICY = `package policy
import rego.v1

default allow := false

allow if {
  input.tee == data.allowed_tee
  print("tee ok:", input.tee)
}

paths contains p if some p in input.paths
`;

test('policy eval: a defined result is printed as JSON (exit 0), print() goes to stderr', () => {
  const pol = file('res.rego', RESOURCE_POLICY);
  const input = file('in.json', JSON.stringify({ tee: 'snp', paths: ['b', 'a', 'b'] }));
  const data = file('data.json', JSON.stringify({ allowed_tee: 'snp' }));
  const ok = policyEval('--policy', pol, '--data', data, '--input', input, '--query', 'data.policy.allow');
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(JSON.parse(ok.stdout), true);
  assert.match(ok.stderr, /res\.rego:8: tee ok: snp/);
  const set = policyEval('--policy', pol, '--input', input, '--query', 'data.policy.paths', '--quiet');
  assert.equal(set.status, 0, set.stderr);
  assert.deepEqual(JSON.parse(set.stdout), ['a', 'b']);
  const denied = policyEval('--policy', pol, '--data', file('d2.json', '{"allowed_tee":"tdx"}'), '--input', input, '--query', 'data.policy.allow');
  assert.equal(denied.status, 0);
  assert.equal(JSON.parse(denied.stdout), false);
});

test('policy eval: an undefined result prints nothing and exits 1', () => {
  const pol = file('u.rego', 'package p\nimport rego.v1\nx if input.missing\n');
  const r = policyEval('--policy', pol, '--input', file('e.json', '{}'), '--query', 'data.p.x');
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '');
});

test('policy eval: errors exit 2 with the message on stderr (parse, unknown builtin, conflict, bad JSON, missing file)', () => {
  const input = file('i.json', '{}');
  const parse = policyEval('--policy', file('bad.rego', 'package p\nx := [1,\n'), '--input', input, '--query', 'data.p.x');
  assert.equal(parse.status, 2);
  assert.match(parse.stderr, /bad\.rego:\d+:\d+: .*\[RGO_PARSE\]/);
  const unknown = policyEval('--policy', file('f.rego', 'package p\nx := no_such_fn(1)\n'), '--input', input, '--query', 'data.p.x');
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /no_such_fn.*\[RGO_COMPILE\]/);
  const conflict = policyEval('--policy', file('c.rego', 'package p\nimport rego.v1\nx := 1 if true\nx := 2 if true\n'), '--input', input, '--query', 'data.p.x');
  assert.equal(conflict.status, 2);
  assert.match(conflict.stderr, /RGO_CONFLICT/);
  const badJson = policyEval('--policy', file('ok.rego', 'package p\nx := 1\n'), '--input', file('bad.json', '{nope'), '--query', 'data.p.x');
  assert.equal(badJson.status, 2);
  assert.match(badJson.stderr, /--input .* is not valid JSON/);
  const missing = policyEval('--policy', path.join(tmp.dir, 'absent.rego'), '--query', 'data.p.x');
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /KBSCLI_FILE_READ/);
});

test('policy eval: a runaway policy ends with RGO_LIMIT within its time budget', () => {
  const pol = file('slow.rego', 'package p\nimport rego.v1\nx := count([1 | some a in numbers.range(1, 1000); some b in numbers.range(1, 1000); some c in numbers.range(1, 1000)])\n');
  const r = policyEval('--policy', pol, '--query', 'data.p.x', '--timeout-ms', '200');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /RGO_LIMIT/);
});

test('policy eval: a real genpolicy agent policy (v0) allows a recorded CreateSandboxRequest', () => {
  const dir = sharedDir('rego-conformance', 'regorus', 'tests/kata/data/pod-cm1');
  const lines = readFileSync(path.join(dir, 'inputs.txt'), 'utf8').split('\n').map((l) => l.trim()).filter(Boolean);
  const req = lines.map((l) => JSON.parse(l.replace('"ep":', '').slice(0, -1)) as [string, unknown]).find(([ep]) => ep === 'CreateSandboxRequest');
  assert.ok(req);
  const input = file('sandbox.json', JSON.stringify(req[1]));
  const r = policyEval('--policy', path.join(dir, 'policy.rego'), '--rego-version', 'v0', '--input', input, '--query', 'data.agent_policy.CreateSandboxRequest', '--quiet');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout), true);
});

test('policy eval: integers beyond 2^53 in input and results stay exact, as OPA prints them', () => {
  const pol = file('big.rego', 'package big\nimport rego.v1\nnext := input.n + 1\n');
  const input = file('big.json', '{"n": 12345678901234567890}');
  const r = policyEval('--policy', pol, '--input', input, '--query', 'data.big.next');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), '12345678901234567891');
});
