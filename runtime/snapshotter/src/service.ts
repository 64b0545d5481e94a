import { rmSync } from 'node:fs';
import grpc from '@grpc/grpc-js';
import { isKccError, messageOf } from '@kata-cc/errors';
import { silentLogger, type Logger } from '@kata-cc/log';
import { loadProtos } from '@kata-cc/protocols';
import { grpcCodeOfKind } from '@kata-cc/ttrpc';
import type protobuf from 'protobufjs';
import type { SnapshotInfo, SnapshotKind, SnapshotStore } from './store.js';

/** The gRPC service name containerd's proxy snapshotter calls. */
export const SNAPSHOTS_SERVICE = 'containerd.services.snapshots.v1.Snapshots';

let root: protobuf.Root | undefined;
function type(name: string): protobuf.Type {
  root ??= loadProtos('containerd/api/services/snapshots/v1/snapshots.proto');
  return root.lookupType(name);
}

const KIND_NUM: Record<SnapshotKind, number> = { VIEW: 1, ACTIVE: 2, COMMITTED: 3 };
const ts = (ms: number): { seconds: number; nanos: number } => ({ seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 });
const info = (i: SnapshotInfo): Record<string, unknown> => ({
  name: i.name, parent: i.parent, kind: KIND_NUM[i.kind], created_at: ts(i.created), updated_at: ts(i.updated), labels: i.labels,
});

type Msg = Record<string, unknown>;
type Handler = (req: Msg) => Msg;
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const labelsOf = (v: unknown): Record<string, string> => (v !== null && typeof v === 'object' ? { ...(v as Record<string, string>) } : {});

function method(name: string, req: string, res: string, stream = false): grpc.MethodDefinition<Msg, Msg> {
  const rq = type(req);
  const rs = type(res);
  return {
    path: `/${SNAPSHOTS_SERVICE}/${name}`,
    requestStream: false,
    responseStream: stream,
    requestSerialize: (m: Msg) => Buffer.from(rq.encode(rq.fromObject(m)).finish()),
    requestDeserialize: (b: Buffer) => rq.toObject(rq.decode(b), { defaults: true, longs: Number }) as Msg,
    responseSerialize: (m: Msg) => Buffer.from(rs.encode(rs.fromObject(m)).finish()),
    responseDeserialize: (b: Buffer) => rs.toObject(rs.decode(b), { defaults: true, longs: Number }) as Msg,
  };
}

/** Builds the service definition and the handlers over a store. */
export function snapshotsService(store: SnapshotStore, logger: Logger = silentLogger): { definition: grpc.ServiceDefinition; handlers: grpc.UntypedServiceImplementation } {
  const unary: Record<string, [string, string, Handler]> = {
    Prepare: ['PrepareSnapshotRequest', 'PrepareSnapshotResponse', (r) => ({ mounts: store.prepare(str(r['key']), str(r['parent']), labelsOf(r['labels']), false) })],
    View: ['ViewSnapshotRequest', 'ViewSnapshotResponse', (r) => ({ mounts: store.prepare(str(r['key']), str(r['parent']), labelsOf(r['labels']), true) })],
    Mounts: ['MountsRequest', 'MountsResponse', (r) => ({ mounts: store.mounts(str(r['key'])) })],
    Commit: ['CommitSnapshotRequest', 'google.protobuf.Empty', (r) => (store.commit(str(r['name']), str(r['key']), labelsOf(r['labels'])), {})],
    Remove: ['RemoveSnapshotRequest', 'google.protobuf.Empty', (r) => (store.remove(str(r['key'])), {})],
    Stat: ['StatSnapshotRequest', 'StatSnapshotResponse', (r) => ({ info: info(store.stat(str(r['key']))) })],
    Update: ['UpdateSnapshotRequest', 'UpdateSnapshotResponse', (r) => {
      const i = (r['info'] ?? {}) as Msg;
      const mask = ((r['update_mask'] ?? {}) as { paths?: string[] }).paths ?? [];
      return { info: info(store.update({ name: str(i['name']), labels: labelsOf(i['labels']) }, mask)) };
    }],
    Usage: ['UsageRequest', 'UsageResponse', (r) => store.usage(str(r['key']))],
    Cleanup: ['CleanupRequest', 'google.protobuf.Empty', () => (store.cleanup(), {})],
  };
  const definition: Record<string, grpc.MethodDefinition<Msg, Msg>> = {};
  const handlers: grpc.UntypedServiceImplementation = {};
  const P = 'containerd.services.snapshots.v1.';
  for (const [name, [req, res, fn]] of Object.entries(unary)) {
    definition[name] = method(name, P + req, res.startsWith('google.') ? res : P + res);
    handlers[name] = (call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>): void => {
      try {
        const out = fn(call.request);
        logger.debug({ method: name, key: call.request['key'] }, 'snapshot call');
        cb(null, out);
      } catch (err) {
        const code = isKccError(err) ? grpcCodeOfKind(err.kind) : grpc.status.INTERNAL;
        // ALREADY_EXISTS on a layer is the normal guest-pull answer, not a failure.
        logger[code === grpc.status.ALREADY_EXISTS || code === grpc.status.NOT_FOUND ? 'debug' : 'warn']({ method: name, code: isKccError(err) ? err.code : undefined, err: messageOf(err) }, 'snapshot call refused');
        cb({ code, details: messageOf(err) });
      }
    };
  }
  // List streams all snapshots in one message; containerd's metadata layer re-checks its filters.
  definition['List'] = method('List', `${P}ListSnapshotsRequest`, `${P}ListSnapshotsResponse`, true);
  handlers['List'] = (call: grpc.ServerWritableStream<Msg, Msg>): void => {
    call.write({ info: store.list().map(info) });
    call.end();
  };
  return { definition: definition as grpc.ServiceDefinition, handlers };
}

/** Serves the snapshots service on a unix socket path (a stale socket file is replaced). */
export async function serveSnapshotter(store: SnapshotStore, socket: string, logger: Logger = silentLogger): Promise<{ server: grpc.Server; close(): Promise<void> }> {
  rmSync(socket, { force: true });
  const server = new grpc.Server();
  const { definition, handlers } = snapshotsService(store, logger);
  server.addService(definition, handlers);
  await new Promise<number>((resolve, reject) => server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  return {
    server,
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => { rmSync(socket, { force: true }); resolve(); })),
  };
}
