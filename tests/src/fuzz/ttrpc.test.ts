/**
 * Fuzz: ttRPC frames and protobuf messages on both ends (@kata-cc/ttrpc over a real Unix
 * socket, the kata agent protos as payload types).
 * Server: garbage byte streams, well-framed requests with garbage envelopes or payloads,
 * unknown stream ids and frame types, oversized lengths, truncated frames. Every request frame
 * gets exactly one response on its stream id, the process stays up, and a valid call on
 * another connection (and on the same one when framing stayed in sync) still succeeds.
 * Client: a hostile server answers with garbage; every call settles with a TTRPC_ KccError
 * (or a decoded response) within its deadline, never another exception type.
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import fc from 'fast-check';
import { tempDir } from '@kata-cc/testing';
import {
  FrameDecoder, HEADER_LENGTH, MAX_MESSAGE_LENGTH, MESSAGE_TYPE_REQUEST, MESSAGE_TYPE_RESPONSE,
  TtrpcClient, TtrpcServer, decodeRequest, decodeResponse, encodeFrame, encodeRequest, encodeResponse, unaryMethod,
} from '@kata-cc/ttrpc';
import { AGENT_SERVICE, codec } from '@kata-cc/kata-agent';
import { expectKcc, fuzz, mutate, mutationArb, test, within } from './budget.js';

const tmp = await tempDir('fuzz-ttrpc-');
const sock = path.join(tmp.dir, 'server.sock');
const server = new TtrpcServer();
const CreateContainerRequest = codec('grpc.CreateContainerRequest');
const Empty = codec('google.protobuf.Empty');
const Guest = codec('grpc.GuestDetailsResponse');
server.register(AGENT_SERVICE, {
  CreateContainer: unaryMethod({ requestType: CreateContainerRequest, responseType: Empty, handler: async () => ({}) }),
  GetGuestDetails: unaryMethod({ requestType: codec('grpc.GuestDetailsRequest'), responseType: Guest, handler: async () => ({ mem_block_size_bytes: 128 }) }),
});

before(async () => {
  await server.listen({ path: sock });
});
after(async () => {
  await server.close();
  await tmp.cleanup();
});

const validCreate = CreateContainerRequest.encode({ container_id: 'c1', exec_id: 'e1', OCI: { Version: '1.0.2', Hostname: 'h', Annotations: { a: 'b' } } });

/** A raw connection: write bytes, collect response frames. */
async function rawConn(): Promise<{ s: net.Socket; frames: { id: number; type: number; payload: Buffer }[]; closed: Promise<void> }> {
  const s = net.createConnection(sock);
  await new Promise<void>((r, j) => { s.once('connect', r); s.once('error', j); });
  const d = new FrameDecoder(MAX_MESSAGE_LENGTH);
  const frames: { id: number; type: number; payload: Buffer }[] = [];
  s.on('data', (c: Buffer) => { for (const f of d.push(c)) if (f.kind === 'frame') frames.push({ id: f.frame.streamId, type: f.frame.type, payload: f.frame.payload }); });
  s.on('error', () => {});
  const closed = new Promise<void>((r) => s.once('close', () => r()));
  return { s, frames, closed };
}

async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`${what}: timed out (hang)`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** The server still serves a good call on a fresh connection. */
async function serverAlive(): Promise<void> {
  const c = await TtrpcClient.connect(sock, { connectTimeoutMs: 2000 });
  try {
    const res = await c.request(AGENT_SERVICE, 'GetGuestDetails', codec('grpc.GuestDetailsRequest'), Guest, {}, { timeoutMs: 3000 });
    assert.equal(Number((res as { mem_block_size_bytes: number }).mem_block_size_bytes), 128);
  } finally {
    c.close();
  }
}

test('server: garbage byte streams never take it down', async () => {
  await fuzz('ttrpc/server garbage stream', [fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { minLength: 1, maxLength: 5 })], async (chunks) => {
    const { s } = await rawConn();
    for (const c of chunks) s.write(c);
    await new Promise((r) => setTimeout(r, 1));
    s.destroy();
  }, { runs: 200, seconds: 3 });
  await serverAlive();
});

/** Request envelopes: valid, byte-mutated, or random bytes; service/method drawn near the real ones. */
const envelope = fc.oneof(
  fc.record({
    service: fc.constantFrom(AGENT_SERVICE, 'grpc.Health', '', 'x'.repeat(300), 'grpc.AgentService\0'),
    method: fc.constantFrom('CreateContainer', 'GetGuestDetails', 'Nope', ''),
    payload: fc.oneof(fc.constant(validCreate), mutationArb(validCreate.length).map((m) => mutate(validCreate, m)), fc.uint8Array({ maxLength: 200 })),
    timeoutNano: fc.constantFrom(0n, 1n, 1_000_000n, -1n, 2n ** 63n - 1n),
    metadata: fc.array(fc.record({ key: fc.string({ maxLength: 10 }), value: fc.string({ maxLength: 10 }) }), { maxLength: 3 }),
  }).map((r) => new Uint8Array(encodeRequest(r))),
  fc.uint8Array({ maxLength: 200 }),
).chain((b) => fc.oneof(fc.constant(b), mutationArb(Math.max(1, b.length)).map((m) => mutate(b, m))));

test('server: well-framed garbage requests get one answer each, and a valid call on the same connection still works', async () => {
  const { s, frames } = await rawConn();
  let nextId = 1;
  await fuzz('ttrpc/server request envelopes', [envelope, fc.constantFrom(0, 0, 0, 1, 2, 4)], async (body, flags) => {
    const id = nextId;
    nextId += 2;
    const remoteOpen = (flags & 2) !== 0;
    s.write(encodeFrame(id, MESSAGE_TYPE_REQUEST, flags, body));
    await waitFor(() => frames.some((f) => f.id === id), 3000, `answer to stream ${id}`);
    const f = frames.find((x) => x.id === id)!;
    assert.equal(f.type, MESSAGE_TYPE_RESPONSE);
    const res = decodeResponse(f.payload);
    let code = res.status?.code ?? 0;
    // A request that decodes and names a real method may succeed; everything else is refused.
    if (code === 0) {
      assert.ok(!remoteOpen, 'a streaming request was served');
      const req = decodeRequest(body);
      assert.ok(req.service === AGENT_SERVICE && ['CreateContainer', 'GetGuestDetails'].includes(req.method), `OK for ${req.service}/${req.method}`);
      code = 0;
    }
    return `grpc${code}`;
  }, { runs: 400, seconds: 4 });
  // Same connection, still in sync: a valid call.
  const id = nextId;
  s.write(encodeFrame(id, MESSAGE_TYPE_REQUEST, 0, encodeRequest({ service: AGENT_SERVICE, method: 'CreateContainer', payload: validCreate, timeoutNano: 0n, metadata: [] })));
  await waitFor(() => frames.some((f) => f.id === id), 3000, 'valid call after fuzz');
  assert.equal(decodeResponse(frames.find((f) => f.id === id)!.payload).status?.code ?? 0, 0);
  s.destroy();
});

test('server: unknown frame types, stream ids, oversized lengths and truncated frames', async () => {
  const frame = fc.oneof(
    // data/response/unknown frame types on any stream id: ignored (no answer), connection stays in sync
    fc.record({ kind: fc.constant('other' as const), id: fc.nat(), type: fc.constantFrom(0, 2, 3, 4, 255), flags: fc.nat(255), payload: fc.uint8Array({ maxLength: 64 }) }),
    // oversized length: RESOURCE_EXHAUSTED on its stream, payload skipped
    fc.record({ kind: fc.constant('oversize' as const), id: fc.nat(), extra: fc.integer({ min: 1, max: 64 * 1024 }) }),
  );
  await fuzz('ttrpc/server odd frames', [fc.array(frame, { minLength: 1, maxLength: 4 }), fc.nat(HEADER_LENGTH + 20)], async (fs, cut) => {
    const { s, frames } = await rawConn();
    const oversizeIds: number[] = [];
    for (const f of fs) {
      if (f.kind === 'other') s.write(encodeFrame(f.id, f.type, f.flags, f.payload));
      else {
        const len = MAX_MESSAGE_LENGTH + f.extra;
        const h = Buffer.alloc(HEADER_LENGTH);
        h.writeUInt32BE(len, 0);
        h.writeUInt32BE(f.id >>> 0, 4);
        h.writeUInt8(MESSAGE_TYPE_REQUEST, 8);
        s.write(h);
        s.write(Buffer.alloc(len, 0x41));
        oversizeIds.push(f.id >>> 0);
      }
    }
    // Then a valid call: answered OK after the skipped payloads.
    const probe = 0x7ffffff1;
    s.write(encodeFrame(probe, MESSAGE_TYPE_REQUEST, 0, encodeRequest({ service: AGENT_SERVICE, method: 'CreateContainer', payload: validCreate, timeoutNano: 0n, metadata: [] })));
    await waitFor(() => frames.some((f) => f.id === probe), 5000, 'probe after odd frames');
    assert.equal(decodeResponse(frames.find((f) => f.id === probe)!.payload).status?.code ?? 0, 0);
    for (const id of oversizeIds) assert.equal(decodeResponse(frames.find((f) => f.id === id)!.payload).status?.code, 8, 'RESOURCE_EXHAUSTED for an oversized frame');
    // Finally a truncated frame, then the connection closes: nothing may hang or crash.
    const tail = encodeFrame(probe + 2, MESSAGE_TYPE_REQUEST, 0, encodeRequest({ service: AGENT_SERVICE, method: 'CreateContainer', payload: validCreate, timeoutNano: 0n, metadata: [] }));
    s.end(tail.subarray(0, Math.min(cut, tail.length - 1)));
    s.destroy();
    return oversizeIds.length > 0 ? 'oversize' : 'other';
  }, { runs: 60, seconds: 4 });
  await serverAlive();
});

// ---- client side: a hostile server ----

const hostileSock = path.join(tmp.dir, 'hostile.sock');
type Reply = (streamId: number) => Buffer;
let hostileReply: Reply = () => Buffer.alloc(0);
const hostile = net.createServer((s) => {
  const d = new FrameDecoder(MAX_MESSAGE_LENGTH);
  s.on('error', () => {});
  s.on('data', (c: Buffer) => {
    for (const f of d.push(c)) if (f.kind === 'frame') {
      const out = hostileReply(f.frame.streamId);
      if (out.length > 0 && !s.destroyed) s.write(out);
    }
  });
});
before(async () => {
  await new Promise<void>((r) => hostile.listen(hostileSock, r));
});
after(async () => {
  await new Promise<void>((r) => hostile.close(() => r()));
});

const answer = fc.oneof(
  // a response envelope with garbage status/payload on the right stream
  fc.record({ kind: fc.constant('envelope' as const), code: fc.constantFrom(0, 1, 2, 3, 5, 8, 13, 16, 99, -1), message: fc.string({ maxLength: 20 }), detail: fc.uint8Array({ maxLength: 40 }), typeUrl: fc.constantFrom('type.googleapis.com/google.rpc.ErrorInfo', 'x'), payload: fc.uint8Array({ maxLength: 80 }) }),
  // raw bytes as the response payload on the right stream
  fc.record({ kind: fc.constant('payload' as const), bytes: fc.uint8Array({ maxLength: 120 }) }),
  // frames on other stream ids / types, random bytes, an oversized header, a truncated frame
  fc.record({ kind: fc.constant('wrong-id' as const), delta: fc.integer({ min: 1, max: 1000 }), type: fc.constantFrom(1, 2, 3) }),
  fc.record({ kind: fc.constant('garbage' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }) }),
  fc.record({ kind: fc.constant('oversize' as const), extra: fc.integer({ min: 1, max: 1 << 20 }) }),
  fc.record({ kind: fc.constant('truncated' as const), keep: fc.integer({ min: 1, max: 12 }) }),
);

type Answer = typeof answer extends fc.Arbitrary<infer T> ? T : never;

function build(a: Answer, id: number): Buffer {
  switch (a.kind) {
    case 'envelope': {
      const status = { code: a.code, message: a.message, details: [{ typeUrl: a.typeUrl, value: a.detail }] };
      return encodeFrame(id, MESSAGE_TYPE_RESPONSE, 0, encodeResponse({ status, payload: a.payload }));
    }
    case 'payload':
      return encodeFrame(id, MESSAGE_TYPE_RESPONSE, 0, a.bytes);
    case 'wrong-id':
      return encodeFrame(id + a.delta, a.type, 0, encodeResponse({ payload: new Uint8Array(0) }));
    case 'garbage':
      return Buffer.from(a.bytes);
    case 'oversize': {
      const h = Buffer.alloc(HEADER_LENGTH);
      h.writeUInt32BE(MAX_MESSAGE_LENGTH + a.extra, 0);
      h.writeUInt32BE(id, 4);
      h.writeUInt8(MESSAGE_TYPE_RESPONSE, 8);
      return h;
    }
    case 'truncated':
      return encodeFrame(id, MESSAGE_TYPE_RESPONSE, 0, encodeResponse({ payload: new Uint8Array(8) })).subarray(0, a.keep);
  }
}

test('client: hostile answers settle every call with a TTRPC_/peer KccError or a decoded response, in time', async () => {
  await fuzz('ttrpc/client hostile server', [answer, fc.boolean()], async (a, typed) => {
    hostileReply = (id) => build(a, id);
    const c = await TtrpcClient.connect(hostileSock, { connectTimeoutMs: 2000 });
    try {
      const p: Promise<unknown> = typed
        ? c.request(AGENT_SERVICE, 'GetGuestDetails', codec('grpc.GuestDetailsRequest'), Guest, {}, { timeoutMs: 60 })
        : c.call(AGENT_SERVICE, 'CreateContainer', validCreate, { timeoutMs: 60 });
      await within(3000, 'client call', p);
      return 'resolved';
    } catch (e) {
      // Status codes from the peer become KccErrors with the peer's code (any stable code) or TTRPC_STATUS_*.
      return expectKcc(e, /^[A-Z]/, `client (${a.kind})`).code.replace(/^TTRPC_STATUS_.*/, 'TTRPC_STATUS_*');
    } finally {
      c.close();
    }
  }, { runs: 200, seconds: 4 });
});
