/**
 * containerd's shim API (containerd 1.6 `runtime/v2/task/shim.proto`, package
 * containerd.task.v2), task events and the ttRPC events service, as protobufjs codecs.
 */
import { loadProtos } from '@kata-cc/protocols';
import { protobufCodec, type MessageCodec } from '@kata-cc/ttrpc';

export type Msg = Record<string, unknown>;

export const TASK_SERVICE = 'containerd.task.v2.Task';
export const EVENTS_SERVICE = 'containerd.services.events.ttrpc.v1.Events';
/** containerd `pkg/namespaces/ttrpc.go`. */
export const NAMESPACE_METADATA_KEY = 'containerd-namespace-ttrpc';

let root: ReturnType<typeof loadProtos> | undefined;
export function shimProtos(): ReturnType<typeof loadProtos> {
  root ??= loadProtos(
    'containerd/runtime/v2/task/shim.proto',
    'containerd/api/events/task.proto',
    'containerd/api/services/ttrpc/events/v1/events.proto',
    'containerd/pkg/runtimeoptions/v1/api.proto',
    'containerd/cgroups/stats/v1/metrics.proto',
    'containerd/api/types/introspection.proto',
    'containerd/api/runtime/bootstrap/v1/bootstrap.proto',
  );
  return root;
}

const cache = new Map<string, MessageCodec<Msg>>();
/** Codec of a message by full name, e.g. `containerd.task.v2.DeleteResponse`. */
export function codec(fullName: string): MessageCodec<Msg> {
  let c = cache.get(fullName);
  if (c === undefined) {
    c = protobufCodec<Msg>(shimProtos().lookupType(fullName) as never);
    cache.set(fullName, c);
  }
  return c;
}

/** Request/response codecs of a Task method from the service definition. */
export function taskMethodCodecs(method: string): { req: MessageCodec<Msg>; res: MessageCodec<Msg> } {
  const m = shimProtos().lookupService(TASK_SERVICE).methods[method];
  if (m === undefined) throw new TypeError(`No method ${method} in ${TASK_SERVICE}`);
  m.resolve();
  const name = (t: unknown): string => String((t as { fullName: string }).fullName).replace(/^\./, '');
  return { req: codec(name(m.resolvedRequestType)), res: codec(name(m.resolvedResponseType)) };
}

/** google.protobuf.Timestamp from a Date. */
export function timestamp(d: Date): Msg {
  const ms = d.getTime();
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
}

/** Task method names, in shim.proto order. */
export const TASK_METHODS = ['State', 'Create', 'Start', 'Delete', 'Pids', 'Pause', 'Resume', 'Checkpoint', 'Kill', 'Exec', 'ResizePty', 'CloseIO', 'Update', 'Wait', 'Stats', 'Connect', 'Shutdown'] as const;
export type TaskMethod = (typeof TASK_METHODS)[number];
