import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { hasCode } from '@kata-cc/errors';
import { parseConfig } from '@kata-cc/hypervisor';
import { AGENT_POLICY_ANNOTATION, Sandbox, agentPolicyFromAnnotations, sandboxDir } from './sandbox.js';
import { FAKE_AGENT_MAIN } from './fake-agent/path.js';

const state = mkdtempSync(path.join(tmpdir(), 'sandbox-test-'));
after(() => rmSync(state, { recursive: true, force: true }));

const config = (extraArgs: string[] = [], dial = 10) => parseConfig({
  hypervisor: { fake: { guest_command: [process.execPath, FAKE_AGENT_MAIN, ...extraArgs] } },
  agent: { kata: { dial_timeout: dial } },
  runtime: { state_dir: state },
});

test('fake VM + fake agent: guest-pull container runs, stdout read, exit status, teardown removes state', async () => {
  const cfg = config();
  const sb = await Sandbox.create({ id: 'sb1', config: cfg, annotations: {} });
  try {
    assert.ok(sb.pid > 0);
    await sb.createContainer('c1', {
      process: { args: ['/bin/sh', '-c', 'echo hello-fake; exit 3'], env: ['A=1'], cwd: '/' },
      annotations: { 'io.kubernetes.cri.image-name': '127.0.0.1:5000/peers/bb:latest' },
      mounts: [{ destination: '/proc', type: 'proc', source: 'proc', options: [] }],
    });
    await sb.agent.call('StartContainer', { container_id: 'c1' });
    const out = await sb.agent.call('ReadStdout', { container_id: 'c1', exec_id: '', len: 1024 }, 0);
    assert.equal(String(out['data']), 'hello-fake\n');
    const w = await sb.agent.call('WaitProcess', { container_id: 'c1', exec_id: '' }, 0);
    assert.equal(w['status'], 3);
  } finally {
    await sb.destroy();
  }
  assert.equal(existsSync(sandboxDir(cfg, 'sb1')), false);
});

test('a container without an image reference is refused (host rootfs is never shared)', async () => {
  const sb = await Sandbox.create({ id: 'sb2', config: config(), annotations: {} });
  try {
    await assert.rejects(sb.createContainer('c1', { process: { args: ['true'] } }), (e: unknown) => hasCode(e, 'SANDBOX_NO_IMAGE_REFERENCE'));
  } finally {
    await sb.destroy();
  }
});

test('an agent that never answers fails with SANDBOX_AGENT_TIMEOUT and leaves nothing behind', async () => {
  const cfg = config(['--hang'], 1);
  await assert.rejects(Sandbox.create({ id: 'sb3', config: cfg, annotations: {} }), (e: unknown) => hasCode(e, 'SANDBOX_AGENT_TIMEOUT') && /grpc.Health\/Check within 1000 ms/.test(e.message));
  assert.equal(existsSync(sandboxDir(cfg, 'sb3')), false);
});

test('annotations outside the allow-list are refused before anything starts', async () => {
  await assert.rejects(Sandbox.create({ id: 'sb4', config: config(), annotations: { 'io.katacontainers.config.hypervisor.path': '/bin/evil' } }), (e: unknown) => hasCode(e, 'HV_ANNOTATION_NOT_ALLOWED'));
});

test('aborting a start while the guest boots stops the VM: SANDBOX_ABORTED, nothing left behind', async () => {
  const cfg = config(['--hang'], 600);
  const abort = new AbortController();
  const starting = Sandbox.create({ id: 'sb5', config: cfg, annotations: {}, signal: abort.signal });
  // Abort once the VM process is up (its state dir exists), not on a timer guess.
  while (!existsSync(sandboxDir(cfg, 'sb5'))) await new Promise((r) => setImmediate(r));
  abort.abort();
  await assert.rejects(starting, (e: unknown) => hasCode(e, 'SANDBOX_ABORTED'));
  assert.equal(existsSync(sandboxDir(cfg, 'sb5')), false);
});

test('an already aborted signal starts nothing', async () => {
  const cfg = config();
  await assert.rejects(Sandbox.create({ id: 'sb6', config: cfg, annotations: {}, signal: AbortSignal.abort() }), (e: unknown) => hasCode(e, 'SANDBOX_ABORTED'));
  assert.equal(existsSync(sandboxDir(cfg, 'sb6')), false);
});

const POLICY = 'package agent_policy\ndefault ExecProcessRequest := true\n';
const policyAnnotation = (text: string): Record<string, string> => ({ [AGENT_POLICY_ANNOTATION]: Buffer.from(text).toString('base64') });

test('agent policy annotation: its Rego goes to the agent with SetPolicy before CreateSandbox (plain and gzip base64)', async () => {
  const log = path.join(state, 'policies.log');
  const cfg = config([`--policy-log=${log}`]);
  const sb = await Sandbox.create({ id: 'sb7', config: cfg, annotations: policyAnnotation(POLICY) });
  await sb.destroy();
  assert.equal(readFileSync(log, 'utf8'), POLICY);
  rmSync(log);
  const sb2 = await Sandbox.create({ id: 'sb7', config: cfg, annotations: { [AGENT_POLICY_ANNOTATION]: gzipSync(POLICY).toString('base64') } });
  await sb2.destroy();
  assert.equal(readFileSync(log, 'utf8'), POLICY);
  const sb3 = await Sandbox.create({ id: 'sb7', config: cfg, annotations: {} });
  await sb3.destroy();
  assert.equal(readFileSync(log, 'utf8'), POLICY, 'no annotation, no SetPolicy');
});

test('agent policy annotation refused by the agent: SANDBOX_SET_POLICY_FAILED carries the refusal, the VM is stopped, no state left', async () => {
  const cfg = config(['--deny-set-policy']);
  await assert.rejects(Sandbox.create({ id: 'sb8', config: cfg, annotations: policyAnnotation(POLICY) }), (e: unknown) => {
    assert.ok(hasCode(e, 'SANDBOX_SET_POLICY_FAILED'));
    assert.match(e.message, /io\.katacontainers\.config\.agent\.policy/);
    assert.match(e.message, /SetPolicy is blocked by policy/);
    assert.equal(e.kind, 'PERMISSION_DENIED');
    assert.equal(e.details?.['agentCode'], 'AGENT_POLICY_DENIED');
    return true;
  });
  assert.equal(existsSync(sandboxDir(cfg, 'sb8')), false);
});

test('a malformed agent policy annotation is refused before any VM starts', async () => {
  const cfg = config();
  for (const bad of ['not base64!', '', Buffer.from([0x1f, 0x8b, 1, 2, 3]).toString('base64')]) {
    assert.throws(() => agentPolicyFromAnnotations({ [AGENT_POLICY_ANNOTATION]: bad }), (e: unknown) => hasCode(e, 'SANDBOX_AGENT_POLICY_INVALID'));
    await assert.rejects(Sandbox.create({ id: 'sb9', config: cfg, annotations: { [AGENT_POLICY_ANNOTATION]: bad } }), (e: unknown) => hasCode(e, 'SANDBOX_AGENT_POLICY_INVALID'));
    assert.equal(existsSync(sandboxDir(cfg, 'sb9')), false);
  }
  assert.equal(agentPolicyFromAnnotations({}), undefined);
});
