import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { hasCode } from '@kata-cc/errors';
import { silentLogger } from '@kata-cc/log';
import { parseFlags, socketAddress } from './flags.js';
import { configPathFromStdin } from './start.js';
import { deleteShim } from './delete.js';
import { codec, taskMethodCodecs, TASK_METHODS } from './protos.js';

test('flags: containerd start/delete argv (Go flag syntax)', () => {
  const f = parseFlags(['-namespace', 'k8s.io', '-address', '/run/containerd/containerd.sock', '-publish-binary', '/usr/bin/containerd', '-id', 'abc', '-debug', 'start']);
  assert.deepEqual({ ns: f.namespace, addr: f.address, id: f.id, debug: f.debug, action: f.action }, { ns: 'k8s.io', addr: '/run/containerd/containerd.sock', id: 'abc', debug: true, action: 'start' });
  const d = parseFlags(['--namespace=peers', '-address', 'a', '-id', 'k7', '-bundle', '/b', 'delete']);
  assert.equal(d.bundle, '/b');
  assert.equal(d.action, 'delete');
  assert.equal(parseFlags(['-namespace', 'n', '-id', 'x', '-address', 'a']).action, 'serve');
  assert.throws(() => parseFlags(['-bogus', 'x']), (e: unknown) => hasCode(e, 'SHIM_USAGE'));
  assert.throws(() => parseFlags(['frobnicate']), (e: unknown) => hasCode(e, 'SHIM_USAGE'));
});

test('socket address follows containerd pkg/shim SocketAddress', () => {
  const want = createHash('sha256').update('/run/containerd/containerd.sock/k8s.io/abc').digest('hex');
  assert.equal(socketAddress('/run/containerd/containerd.sock', 'k8s.io', 'abc', '/run/containerd/s'), `unix:///run/containerd/s/${want}`);
});

test('runtime options on stdin: the exact bytes containerd 1.6 writes (Any{runtimeoptions.v1.Options{config_path}})', () => {
  const p = Buffer.from('/tmp/pw/kata-cc-config.toml');
  const inner = Buffer.concat([Buffer.from([0x12, p.length]), p]);
  const typeUrl = Buffer.from('runtimeoptions.v1.Options');
  const any = Buffer.concat([Buffer.from([0x0a, typeUrl.length]), typeUrl, Buffer.from([0x12, inner.length]), inner]);
  assert.equal(any.subarray(0, 2).toString('hex'), '0a19');
  assert.equal(configPathFromStdin(any), '/tmp/pw/kata-cc-config.toml');
  assert.equal(configPathFromStdin(Buffer.alloc(0)), undefined);
  assert.equal(configPathFromStdin(Buffer.from([0xff, 0xff, 0xff])), undefined);
});

test('shim delete answers a DeleteResponse with exit status 137 even without state', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'shim-del-'));
  try {
    writeFileSync(path.join(dir, 'kata-cc-state.json'), JSON.stringify({ vmDir: path.join(dir, 'vm') }));
    const out = await deleteShim(dir, silentLogger);
    const res = codec('containerd.task.v2.DeleteResponse').decode(out);
    assert.equal(res['exit_status'], 137);
    assert.ok(Number((res['exited_at'] as { seconds: number }).seconds) > 1_700_000_000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('every containerd.task.v2.Task method of shim.proto has codecs (Checkpoint answers UNIMPLEMENTED)', () => {
  for (const m of TASK_METHODS) assert.ok(taskMethodCodecs(m).req, m);
  assert.equal(TASK_METHODS.length, 17);
});

test('Stats: agent CgroupStats become cgroups v1 Metrics that containerd can decode', async () => {
  const { cgroupsV1Metrics } = await import('./convert.js');
  const m = cgroupsV1Metrics({ cgroup_stats: { cpu_stats: { cpu_usage: { total_usage: 1234, percpu_usage: [1000, 234], usage_in_kernelmode: 10, usage_in_usermode: 20 } }, memory_stats: { cache: 5, usage: { usage: 4096, max_usage: 8192, failcnt: 0, limit: 1 << 30 } }, pids_stats: { current: 3, limit: 100 } } });
  const back = codec('io.containerd.cgroups.v1.Metrics').decode(codec('io.containerd.cgroups.v1.Metrics').encode(m)) as { cpu: { usage: { total: number; per_cpu: number[] } }; memory: { usage: { usage: number; limit: number } }; pids: { current: number } };
  assert.equal(back.cpu.usage.total, 1234);
  assert.deepEqual([...back.cpu.usage.per_cpu], [1000, 234]);
  assert.equal(back.memory.usage.usage, 4096);
  assert.equal(back.memory.usage.limit, 1 << 30);
  assert.equal(back.pids.current, 3);
});

test('-info prints a containerd.types.RuntimeInfo protobuf', async () => {
  const { execFileSync } = await import('node:child_process');
  const bin = new URL('./bin/containerd-shim-kata-cc-v2.js', import.meta.url).pathname;
  const out = execFileSync(process.execPath, [bin, '-info'], { input: Buffer.alloc(0) });
  const info = codec('containerd.types.RuntimeInfo').decode(out) as { name: string; version: { version: string } };
  assert.equal(info.name, 'io.containerd.kata-cc.v2');
  assert.match(info.version.version, /^\d+\.\d+\.\d+$/);
});

test('containerd 2.3+ BootstrapParams on stdin: config path from the runtime options extension', () => {
  const opts = codec('runtimeoptions.v1.Options').encode({ config_path: '/etc/kata-cc/tdx.toml' });
  const params = codec('containerd.runtime.bootstrap.v1.BootstrapParams').encode({
    instance_id: 'pod1', namespace: 'k8s.io', log_level: -4, containerd_version: 'v2.3.0', containerd_ttrpc_address: '/run/containerd/containerd.sock.ttrpc',
    extensions: [{ value: { type_url: 'containerd.io/cri.v1.PodSandboxConfig', value: Buffer.from([8, 1]) } }, { value: { type_url: 'runtimeoptions.v1.Options', value: Buffer.from(opts) } }],
  });
  assert.equal(configPathFromStdin(Buffer.from(params), { id: 'pod1', namespace: 'k8s.io' }), '/etc/kata-cc/tdx.toml');
  // another instance's parameters are not taken for ours
  assert.equal(configPathFromStdin(Buffer.from(params), { id: 'other', namespace: 'k8s.io' }), undefined);
});
