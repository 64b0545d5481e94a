import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import grpc from '@grpc/grpc-js';
import { ERROR_KINDS } from '@kata-cc/errors';
import { grpcCodeOfKind } from '@kata-cc/ttrpc';
import { SnapshotStore } from './store.js';
import { serveSnapshotter, snapshotsService } from './service.js';

let dir: string;
let srv: Awaited<ReturnType<typeof serveSnapshotter>>;
let client: grpc.Client;
type Msg = Record<string, unknown>;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'kcc-snap-'));
  const store = new SnapshotStore(path.join(dir, 'root'));
  srv = await serveSnapshotter(store, path.join(dir, 'snap.sock'));
  client = new grpc.Client(`unix://${path.join(dir, 'snap.sock')}`, grpc.credentials.createInsecure());
});
after(async () => {
  client?.close();
  await srv?.close();
  rmSync(dir, { recursive: true, force: true });
  rmSync(defRoot, { recursive: true, force: true });
});

const defRoot = mkdtempSync(path.join(tmpdir(), 'kcc-snap-def-'));
const def = snapshotsService(new SnapshotStore(defRoot)).definition;
function call(name: string, req: Msg): Promise<Msg> {
  const m = def[name] as grpc.MethodDefinition<Msg, Msg>;
  return new Promise((resolve, reject) => client.makeUnaryRequest(m.path, m.requestSerialize, m.responseDeserialize, req, (e, r) => (e ? reject(e) : resolve(r as Msg))));
}

test('layer Prepare with containerd.io/snapshot.ref answers ALREADY_EXISTS and records a committed snapshot (containerd skips fetch and apply)', async () => {
  await assert.rejects(call('Stat', { key: 'sha256:l1' }), { code: grpc.status.NOT_FOUND });
  await assert.rejects(call('Prepare', { key: 'ns/1/extract-1 sha256:l1', parent: '', labels: { 'containerd.io/snapshot.ref': 'sha256:l1' } }), { code: grpc.status.ALREADY_EXISTS });
  const st = (await call('Stat', { key: 'sha256:l1' })) as { info: { kind: number; parent: string; labels: Record<string, string> } };
  assert.equal(st.info.kind, 3, 'COMMITTED');
  assert.equal(st.info.labels['containerd.io/snapshot.ref'], 'sha256:l1');
  await assert.rejects(call('Prepare', { key: 'ns/2/extract-2 sha256:l2', parent: 'sha256:l1', labels: { 'containerd.io/snapshot.ref': 'sha256:l2' } }), { code: grpc.status.ALREADY_EXISTS });
  assert.equal(((await call('Stat', { key: 'sha256:l2' })) as { info: { parent: string } }).info.parent, 'sha256:l1');
  // Walk (List) finds it with the label and parent, as containerd's metadata layer requires
  const m = def['List'] as grpc.MethodDefinition<Msg, Msg>;
  const listed: Msg[] = [];
  await new Promise<void>((resolve, reject) => {
    const s = client.makeServerStreamRequest(m.path, m.requestSerialize, m.responseDeserialize, {});
    s.on('data', (d: { info: Msg[] }) => listed.push(...d.info));
    s.on('end', () => resolve());
    s.on('error', reject);
  });
  assert.deepEqual(listed.map((i) => i['name']).sort(), ['sha256:l1', 'sha256:l2']);
});

test('container Prepare on a guest-pulled parent returns an empty bind mount; Mounts, Usage, Update, Remove', async () => {
  const r = (await call('Prepare', { key: 'ns/3/ctr', parent: 'sha256:l2', labels: {} })) as { mounts: { type: string; source: string; options: string[] }[] };
  assert.equal(r.mounts.length, 1);
  assert.equal(r.mounts[0]?.type, 'bind');
  assert.deepEqual(readdirSync(r.mounts[0]?.source ?? ''), [], 'empty rootfs: the host holds nothing of the image');
  assert.deepEqual(((await call('Mounts', { key: 'ns/3/ctr' })) as { mounts: unknown[] }).mounts, r.mounts);
  assert.equal(((await call('Usage', { key: 'ns/3/ctr' })) as { size: number }).size, 0);
  const u = (await call('Update', { info: { name: 'ns/3/ctr', labels: { a: 'b' } }, update_mask: { paths: ['labels.a'] } })) as { info: { labels: Record<string, string> } };
  assert.equal(u.info.labels['a'], 'b');
  await assert.rejects(call('Remove', { key: 'sha256:l2' }), { code: grpc.status.FAILED_PRECONDITION }, 'has children');
  await assert.rejects(call('Prepare', { key: 'ns/3/ctr', parent: 'sha256:l2' }), { code: grpc.status.ALREADY_EXISTS });
  await assert.rejects(call('Prepare', { key: 'x', parent: 'missing' }), { code: grpc.status.NOT_FOUND });
  await call('Remove', { key: 'ns/3/ctr' });
  assert.equal(existsSync(r.mounts[0]?.source ?? ''), false);
  await call('Remove', { key: 'sha256:l2' });
  await call('Cleanup', {});
});

test('Commit of an active snapshot, View is read-only, state survives a restart of the store', async () => {
  await call('Prepare', { key: 'act', parent: '' });
  await call('Commit', { name: 'done', key: 'act' });
  assert.equal(((await call('Stat', { key: 'done' })) as { info: { kind: number } }).info.kind, 3);
  const v = (await call('View', { key: 'view', parent: 'done' })) as { mounts: { options: string[] }[] };
  assert.ok(v.mounts[0]?.options.includes('ro'));
  const again = new SnapshotStore(path.join(dir, 'root'));
  assert.deepEqual(again.list().map((i) => i.name).sort(), ['done', 'sha256:l1', 'view']);
  await assert.rejects(call('Prepare', { key: '', parent: '' }), { code: grpc.status.INVALID_ARGUMENT });
});

test('every error kind answers the @grpc/grpc-js status of the same name (NOT_IMPLEMENTED as UNIMPLEMENTED): the shared ttRPC mapping fits gRPC', () => {
  for (const kind of ERROR_KINDS) {
    const name = kind === 'NOT_IMPLEMENTED' ? 'UNIMPLEMENTED' : kind;
    assert.equal(grpcCodeOfKind(kind), grpc.status[name], kind);
  }
});
