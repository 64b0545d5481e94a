import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { KccError, isKccError } from '@kata-cc/errors';
import { TtrpcClient } from './client.js';
import { TtrpcServer, unaryMethod } from './server.js';
import { FrameDecoder, encodeFrame, MESSAGE_TYPE_REQUEST } from './frame.js';
import { decodeRequest, decodeResponse, encodeRequest } from './messages.js';
import type { MessageCodec } from './codec.js';

const dir = mkdtempSync(path.join(tmpdir(), 'ttrpc-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A JSON codec: enough to exercise the transport without a protobuf runtime. */
const json = <T>(): MessageCodec<T> => ({
  encode: (m: T) => Buffer.from(JSON.stringify(m)),
  decode: (b: Uint8Array) => (b.length ? JSON.parse(Buffer.from(b).toString()) : {}) as T,
});

/** Echo requests with `gated: true` are answered only once the running test opens this gate. */
let gate: Promise<void> = Promise.resolve();

async function startServer(): Promise<{ server: TtrpcServer; sock: string }> {
  const server = new TtrpcServer();
  server.register('test.v1.Echo', {
    Echo: unaryMethod({ requestType: json<{ text: string; gated?: boolean }>(), responseType: json<{ text: string; ns: string }>(), handler: async (req, ctx) => {
      if (req.gated) await gate;
      return { text: req.text, ns: ctx.metadata.find((m) => m.key === 'containerd-namespace-ttrpc')?.value ?? '' };
    } }),
    Fail: unaryMethod({ requestType: json<object>(), responseType: json<object>(), handler: async () => {
      throw new KccError({ kind: 'NOT_FOUND', code: 'SHIM_TASK_NOT_FOUND', message: 'Task "x" not found' });
    } }),
    Crash: unaryMethod({ requestType: json<object>(), responseType: json<object>(), handler: async () => { throw new Error('boom'); } }),
    Slow: unaryMethod({ requestType: json<object>(), responseType: json<{ aborted: boolean }>(), handler: async (_req, ctx) => {
      await new Promise((r) => ctx.signal.addEventListener('abort', r, { once: true }));
      return { aborted: true };
    } }),
  });
  const sock = path.join(dir, `s${Math.random().toString(16).slice(2, 8)}.sock`);
  await server.listen({ path: sock });
  return { server, sock };
}

test('request frame bytes match the containerd/ttrpc layout', () => {
  const body = encodeRequest({ service: 'containerd.task.v2.Task', method: 'State', payload: Buffer.from([0x0a, 0x01, 0x78]), timeoutNano: 2_000_000_000n, metadata: [{ key: 'containerd-namespace-ttrpc', value: 'k8s.io' }] });
  const frame = encodeFrame(3, MESSAGE_TYPE_REQUEST, 0, body);
  assert.equal(frame.readUInt32BE(0), body.length);
  assert.equal(frame.readUInt32BE(4), 3);
  assert.equal(frame[8], 1);
  assert.equal(frame[9], 0);
  // field 1 (service) tag 0x0a, len 23; field 4 varint tag 0x20 with 2e9 as varint
  assert.equal(body.subarray(0, 2).toString('hex'), '0a17');
  assert.ok(body.includes(Buffer.from([0x20, 0x80, 0xa8, 0xd6, 0xb9, 0x07])));
  const back = decodeRequest(body);
  assert.equal(back.service, 'containerd.task.v2.Task');
  assert.equal(back.method, 'State');
  assert.equal(back.timeoutNano, 2_000_000_000n);
  assert.deepEqual(back.metadata, [{ key: 'containerd-namespace-ttrpc', value: 'k8s.io' }]);
});

test('frame decoder reassembles split frames and skips oversized ones', () => {
  const d = new FrameDecoder(16);
  const a = encodeFrame(1, 1, 0, Buffer.from('hello'));
  const big = encodeFrame(3, 1, 0, Buffer.alloc(40, 1));
  const b = encodeFrame(5, 1, 0, Buffer.from('world'));
  const all = Buffer.concat([a, big, b]);
  const out = [];
  for (let i = 0; i < all.length; i += 7) out.push(...d.push(all.subarray(i, i + 7)));
  assert.deepEqual(out.map((f) => (f.kind === 'frame' ? f.frame.payload.toString() : `oversize:${f.streamId}`)), ['hello', 'oversize:3', 'world']);
});

test('unary calls run concurrently and answer by stream id, socket is owner-only', async (t) => {
  const { server, sock } = await startServer();
  t.after(() => server.close());
  assert.equal(statSync(sock).mode & 0o777, 0o600);
  const client = await TtrpcClient.connect(`unix://${sock}`);
  t.after(() => client.close());
  const echo = (text: string, gated: boolean) => client.request('test.v1.Echo', 'Echo', json<{ text: string; gated: boolean }>(), json<{ text: string; ns: string }>(), { text, gated }, {
    metadata: [{ key: 'containerd-namespace-ttrpc', value: 'k8s.io' }],
    // Only turns a server that runs calls one at a time (which would never answer 'fast') into a failure.
    timeoutMs: 30_000,
  });
  let openGate = (): void => {};
  gate = new Promise((r) => { openGate = r; });
  // 'slow' is held on the server until the client has the answer to 'fast', sent after it on the
  // same connection: only a server that runs both calls at once gets there.
  const order: string[] = [];
  await Promise.all([
    echo('slow', true).then((r) => order.push(r.text)),
    echo('fast', false).then((r) => { order.push(r.text); openGate(); }),
  ]);
  assert.deepEqual(order, ['fast', 'slow']);
  assert.equal((await echo('x', false)).ns, 'k8s.io');
});

test('errors keep kind and stable code across the wire; unknown methods are UNIMPLEMENTED', async (t) => {
  const { server, sock } = await startServer();
  t.after(() => server.close());
  const client = await TtrpcClient.connect(sock);
  t.after(() => client.close());
  await assert.rejects(client.call('test.v1.Echo', 'Fail', Buffer.alloc(0)), (e: unknown) => isKccError(e) && e.kind === 'NOT_FOUND' && e.code === 'SHIM_TASK_NOT_FOUND' && e.message === 'Task "x" not found');
  await assert.rejects(client.call('test.v1.Echo', 'Crash', Buffer.alloc(0)), (e: unknown) => isKccError(e) && e.kind === 'INTERNAL' && e.message === 'boom');
  await assert.rejects(client.call('test.v1.Echo', 'Nope', Buffer.alloc(0)), (e: unknown) => isKccError(e) && e.kind === 'NOT_IMPLEMENTED' && e.code === 'TTRPC_STATUS_UNIMPLEMENTED');
  await assert.rejects(client.call('other.Svc', 'X', Buffer.alloc(0)), /service other.Svc is not implemented/);
});

test('client timeout fails with TTRPC_TIMEOUT and the server sees the deadline', async (t) => {
  const { server, sock } = await startServer();
  t.after(() => server.close());
  const client = await TtrpcClient.connect(sock);
  t.after(() => client.close());
  await assert.rejects(client.call('test.v1.Echo', 'Slow', Buffer.alloc(0), { timeoutMs: 50 }), (e: unknown) => isKccError(e) && e.code === 'TTRPC_TIMEOUT' && e.kind === 'DEADLINE_EXCEEDED');
  // the connection is still usable after a timeout
  const r = await client.request('test.v1.Echo', 'Echo', json<{ text: string }>(), json<{ text: string }>(), { text: 'still-here' });
  assert.equal(r.text, 'still-here');
});

test('oversized request gets RESOURCE_EXHAUSTED on its stream and the connection survives', async (t) => {
  const { server, sock } = await startServer();
  t.after(() => server.close());
  const raw = net.createConnection(sock);
  t.after(() => raw.destroy());
  await new Promise((r) => raw.once('connect', r));
  const responses: Array<{ id: number; code: number }> = [];
  const d = new FrameDecoder();
  raw.on('data', (c: Buffer) => {
    for (const f of d.push(c)) if (f.kind === 'frame') responses.push({ id: f.frame.streamId, code: decodeResponse(f.frame.payload).status?.code ?? 0 });
  });
  const hdr = Buffer.alloc(10);
  hdr.writeUInt32BE((4 << 20) + 1, 0);
  hdr.writeUInt32BE(1, 4);
  hdr[8] = 1;
  raw.write(hdr);
  raw.write(Buffer.alloc((4 << 20) + 1));
  raw.write(encodeFrame(3, 1, 0, encodeRequest({ service: 'test.v1.Echo', method: 'Echo', payload: Buffer.from('{"text":"a"}'), timeoutNano: 0n, metadata: [] })));
  for (let i = 0; i < 100 && responses.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(responses, [{ id: 1, code: 8 }, { id: 3, code: 0 }]);
});

test('pending calls fail with TTRPC_CLOSED when the peer goes away', async () => {
  const { server, sock } = await startServer();
  const client = await TtrpcClient.connect(sock);
  const p = client.call('test.v1.Echo', 'Slow', Buffer.alloc(0));
  await new Promise((r) => setTimeout(r, 20));
  await server.close();
  await assert.rejects(p, (e: unknown) => isKccError(e) && e.code === 'TTRPC_CLOSED');
  assert.equal(client.closed, true);
  await assert.rejects(client.call('test.v1.Echo', 'Echo', Buffer.alloc(0)), /TTRPC_CLOSED|closed/);
});
