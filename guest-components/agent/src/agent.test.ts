import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { fixturePath, tempDir } from '@kata-cc/testing';
import { startAgent, type RunningAgent } from './agent.js';
import { AgentClient } from './client.js';
import { parseCmdline } from './config.js';
import { guestSpec, ociKey, protoToOci } from './container/oci-spec.js';
import { StreamBuffer } from './container/stream-buffer.js';
import { copyFile } from './guest-ops.js';
import { decodeInitdataDisk, parseInitdata } from './initdata.js';
import { applyJsonPatch } from './policy/json-patch.js';
import { AgentPolicy } from './policy/policy.js';
import { agentMethods } from './proto.js';

let tmp: { dir: string; cleanup: () => Promise<void> };
let agent: RunningAgent;
let client: AgentClient;

before(async () => {
  tmp = await tempDir('kcc-agent-');
  const sock = path.join(tmp.dir, 'agent.sock');
  agent = await startAgent({ ...parseCmdline(''), serverAddr: `unix://${sock}`, policyFile: fixturePath(import.meta.url, 'testdata/allow-all.rego') },
    { readInitdata: false, launchComponents: false, containersDir: path.join(tmp.dir, 'containers') });
  const s = net.connect(sock);
  await new Promise((r) => s.once('connect', r));
  client = new AgentClient(s);
});

after(async () => {
  client?.close();
  await agent?.stop();
  await tmp?.cleanup();
});

test('the transcribed agent.proto has every AgentService method kata has, with their request types', () => {
  const m = agentMethods();
  for (const name of ['CreateSandbox', 'DestroySandbox', 'CreateContainer', 'StartContainer', 'RemoveContainer', 'ExecProcess', 'SignalProcess', 'WaitProcess',
    'ReadStdout', 'ReadStderr', 'WriteStdin', 'CloseStdin', 'TtyWinResize', 'StatsContainer', 'UpdateContainer', 'GetGuestDetails', 'SetPolicy', 'GetOOMEvent', 'CopyFile']) {
    assert.ok(m.has(name), name);
  }
  assert.equal(m.get('ReadStdout')?.request, 'grpc.ReadStreamRequest');
  assert.equal(m.get('GetGuestDetails')?.request, 'grpc.GuestDetailsRequest');
  assert.equal(m.size, 42);
});

test('over ttRPC: health, guest details, sandbox state errors with stable codes', async () => {
  assert.equal(await client.check(), 1);
  const d = await client.call<{ agent_details: { version: string; storage_handlers: string[] } }>('GetGuestDetails', {});
  assert.equal(d.agent_details.version, '0.1.0');
  await assert.rejects(client.call('CreateContainer', { container_id: 'c1' }), { code: 'AGENT_NO_SANDBOX' });
  await client.call('CreateSandbox', { sandbox_id: 'sb' });
  await assert.rejects(client.call('CreateSandbox', { sandbox_id: 'sb' }), { code: 'AGENT_SANDBOX_EXISTS' });
  await assert.rejects(client.call('CreateContainer', { container_id: '../x' }), { code: 'AGENT_INVALID_ID' });
  await assert.rejects(client.call('CreateContainer', { container_id: 'c1', storages: [{ driver: 'virtio-fs', source: 'x', mount_point: path.join(tmp.dir, 'x') }] }), { code: 'AGENT_STORAGE_UNSUPPORTED' });
  await assert.rejects(client.call('WaitProcess', { container_id: 'nope' }), { code: 'AGENT_CONTAINER_NOT_FOUND' });
  await assert.rejects(client.call('MemHotplugByProbe', {}), { code: 'AGENT_NOT_IMPLEMENTED' });
  await assert.rejects(client.call('SetGuestDateTime', { Sec: 1 }), /only served inside a guest/);
  await client.call('DestroySandbox', {});
  const { metrics } = await client.call<{ metrics: string }>('GetMetrics', {});
  assert.match(metrics, /kata_agent_requests_total\{method="CreateSandbox",code="AGENT_SANDBOX_EXISTS"\} 1/);
  assert.match(metrics, /kata_agent_containers 0/);
});

test('SetPolicy replaces the policy; denials name the request; a broken policy is refused and the old one stays', async () => {
  const deny = `package agent_policy\ndefault GuestDetailsRequest := false\ndefault SetPolicyRequest := true\ndefault CheckRequest := true\n`;
  await assert.rejects(client.call('SetPolicy', { policy: 'package other\nx := 1\n' }), { code: 'AGENT_POLICY_INVALID' });
  await client.call('GetGuestDetails', {});
  await client.call('SetPolicy', { policy: deny });
  await assert.rejects(client.call('GetGuestDetails', {}), (e: Error & { code?: string }) => e.code === 'AGENT_POLICY_DENIED' && /^GetGuestDetails is blocked by policy/.test(e.message));
  // Undefined rule = deny (no default for CreateSandboxRequest).
  await assert.rejects(client.call('CreateSandbox', { sandbox_id: 'x' }), { code: 'AGENT_POLICY_DENIED' });
  await client.call('SetPolicy', { policy: await readFile(fixturePath(import.meta.url, 'testdata/allow-all.rego'), 'utf8') });
  await client.call('GetGuestDetails', {});
});

test('policy input has genpolicy shape (proto field names) and {allowed, ops} updates policy state', () => {
  const p = new AgentPolicy({ origin: 'test', text: `package agent_policy
import future.keywords.in
CreateContainerRequest := {"allowed": true, "ops": [{"op": "add", "path": "/pstate/ids/-", "value": input.container_id}]} {
  input.OCI.Annotations["io.kubernetes.cri.container-type"] == "container"
  not input.container_id in object.get(data.pstate, "ids", [])
}
` });
  p.check('CreateContainerRequest', 'CreateContainer', { container_id: 'a', OCI: { Annotations: { 'io.kubernetes.cri.container-type': 'container' } } });
  assert.throws(() => p.check('CreateContainerRequest', 'CreateContainer', { container_id: 'a', OCI: { Annotations: { 'io.kubernetes.cri.container-type': 'container' } } }), { code: 'AGENT_POLICY_DENIED' });
  assert.throws(() => p.check('CreateContainerRequest', 'CreateContainer', { container_id: 'b', OCI: { Annotations: {} } }), { code: 'AGENT_POLICY_DENIED' });
  assert.throws(() => p.check('ExecProcessRequest', 'ExecProcess', {}), /ExecProcess is blocked by policy/);
});

test('json patch: add, replace, remove with array append', () => {
  assert.deepEqual(applyJsonPatch({ pstate: {} }, [{ op: 'add', path: '/pstate/a', value: [1] }, { op: 'add', path: '/pstate/a/-', value: 2 }, { op: 'replace', path: '/pstate/b', value: 'x' }, { op: 'remove', path: '/pstate/b' }]), { pstate: { a: [1, 2] } });
});

test('OCI spec: proto PascalCase to runtime-spec JSON, guest rewrite', () => {
  assert.equal(ociKey('UID'), 'uid');
  assert.equal(ociKey('OOMScoreAdj'), 'oomScoreAdj');
  assert.equal(ociKey('UIDMappings'), 'uidMappings');
  assert.equal(ociKey('CgroupsPath'), 'cgroupsPath');
  assert.equal(ociKey('HostID'), 'hostID');
  const oci = protoToOci({
    Version: '1.0.2', Process: { Terminal: false, User: { UID: 0, GID: 0, AdditionalGids: [] }, Args: ['sh'], Env: [], Cwd: '', OOMScoreAdj: 5 },
    Annotations: { 'io.kubernetes.cri.container-type': 'container', Empty: '' }, Mounts: [{ destination: '/etc/hosts', source: '/run/kata-containers/shared/x/hosts', type: 'bind', options: ['rbind'] }],
    Linux: { Namespaces: [{ Type: 'network', Path: '/var/run/netns/x' }, { Type: 'pid', Path: '' }], Resources: { Memory: { Limit: 1024, Swappiness: 0 } } },
  }) as Record<string, never>;
  assert.deepEqual(oci['process'], { user: { uid: 0, gid: 0 }, args: ['sh'], oomScoreAdj: 5 });
  assert.deepEqual(oci['annotations'], { 'io.kubernetes.cri.container-type': 'container', Empty: '' });
  const { spec, dropped } = guestSpec(oci, 'c1', '/run/kata-containers/c1/rootfs', () => false);
  assert.deepEqual(dropped, ['/etc/hosts']);
  assert.equal(spec.ociVersion, '1.0.2');
  assert.deepEqual(spec.linux?.namespaces, [{ type: 'pid' }, { type: 'mount' }]);
  assert.equal(spec.linux?.cgroupsPath, '/kata_cc/c1/ctr');
  assert.deepEqual(spec.linux?.resources, { memory: { limit: 1024 } });
  assert.ok(spec.mounts?.some((m) => m.destination === '/proc'));
});

test('initdata: disk layout, digest over the exact TOML bytes, validation', () => {
  const toml = Buffer.from('version = "0.1.0"\nalgorithm = "sha384"\n[data]\n"aa.toml" = "x = 1"\n');
  const head = Buffer.alloc(16);
  head.write('initdata');
  const gz = gzipSync(toml);
  head.writeBigUInt64LE(BigInt(gz.length), 8);
  const decoded = decodeInitdataDisk(head, () => gz);
  assert.deepEqual(decoded, toml);
  const init = parseInitdata(toml);
  assert.equal(init.digest.length, 96);
  assert.equal(init.data['aa.toml'], 'x = 1');
  assert.equal(decodeInitdataDisk(Buffer.alloc(16), () => gz), undefined);
  assert.throws(() => parseInitdata(Buffer.from('version = "0.2.0"\nalgorithm = "sha256"\n')), { code: 'AGENT_INITDATA_INVALID' });
  assert.throws(() => parseInitdata(Buffer.from('version = "0.1.0"\nalgorithm = "md5"\n')), { code: 'AGENT_INITDATA_INVALID' });
  assert.throws(() => parseInitdata(Buffer.from('version = "0.1.0"\nalgorithm = "sha256"\n[data]\nx = 1\n')), { code: 'AGENT_INITDATA_INVALID' });
  const big = Buffer.alloc(16);
  big.write('initdata');
  big.writeBigUInt64LE(1n << 40n, 8);
  assert.throws(() => decodeInitdataDisk(big, () => Buffer.alloc(0)), { code: 'AGENT_INITDATA_INVALID' });
});

test('stream buffer: blocking reads, chunking, EOF as AGENT_STREAM_EOF', async () => {
  const b = new StreamBuffer(8);
  const pending = b.read(3);
  b.push(Buffer.from('hello'));
  assert.equal((await pending).toString(), 'hel');
  assert.equal((await b.read(100)).toString(), 'lo');
  b.end();
  await assert.rejects(b.read(1), { code: 'AGENT_STREAM_EOF' });
  const ac = new AbortController();
  const c = new StreamBuffer().read(1, ac.signal);
  ac.abort();
  await assert.rejects(c, { code: 'AGENT_CANCELLED' });
});

test('kernel command line options', () => {
  const c = parseCmdline('quiet agent.server_addr=vport://agent.0 agent.log=debug kata_cc.insecure_registries=a:1,b:2 kata_cc.aa_allow_sample=1');
  assert.equal(c.serverAddr, 'vport://agent.0');
  assert.equal(c.logLevel, 'debug');
  assert.deepEqual(c.insecureRegistries, ['a:1', 'b:2']);
  assert.equal(c.aaAllowSample, true);
  assert.equal(parseCmdline('').serverAddr, 'vsock://-1:1024');
});

test('CopyFile: chunked writes, dirs and symlinks inside the shared dir; escapes refused', async () => {
  const { mkdir, readFile: rf, realpath } = await import('node:fs/promises');
  const root = await realpath(await mkdir(path.join(tmp.dir, 'shared'), { recursive: true }).then(() => path.join(tmp.dir, 'shared')));
  const outside = path.join(tmp.dir, 'outside');
  await mkdir(outside);
  await copyFile({ path: `${root}/sb/hosts`, file_mode: 0o100644, offset: 0, data: Buffer.from('127.0.0.1 ') }, root);
  await copyFile({ path: `${root}/sb/hosts`, file_mode: 0o100644, offset: 10, data: Buffer.from('localhost\n') }, root);
  assert.equal(await rf(`${root}/sb/hosts`, 'utf8'), '127.0.0.1 localhost\n');
  await copyFile({ path: `${root}/sb/dir`, file_mode: 0o040755 }, root);
  await copyFile({ path: `${root}/sb/link`, file_mode: 0o120777, data: Buffer.from(outside) }, root);
  await assert.rejects(copyFile({ path: `${root}/sb/link/evil`, file_mode: 0o100644, data: Buffer.from('x') }, root), { code: 'AGENT_INVALID_SPEC' });
  await assert.rejects(copyFile({ path: `${root}/sb/link`, file_mode: 0o100644, data: Buffer.from('x') }, root), /ELOOP|symbolic/);
  await assert.rejects(copyFile({ path: `${root}/../outside/x`, file_mode: 0o100644 }, root), { code: 'AGENT_INVALID_SPEC' });
  await assert.rejects(rf(path.join(outside, 'evil')), { code: 'ENOENT' });
});
