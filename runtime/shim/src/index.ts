/**
 * @kata-cc/shim: the containerd shim v2 `containerd-shim-kata-cc-v2` (runtime type
 * io.containerd.kata-cc.v2): `start`/`delete` as containerd 1.6–2.x run them, the
 * containerd.task.v2.Task service over ttRPC, task events forwarded to containerd, stdio
 * through containerd's FIFOs. The VM and agent are @kata-cc/sandbox's.
 */
export { TaskService, BUNDLE_STATE_FILE } from './task-service.js';
export type { TaskServiceDeps } from './task-service.js';
export { taskServer } from './task-ttrpc.js';
export { EventPublisher, TOPICS } from './events.js';
export type { EventSink, Topic } from './events.js';
export { parseFlags, socketAddress, socketPath } from './flags.js';
export type { ShimFlags } from './flags.js';
export { startShim, configPathFromStdin } from './start.js';
export { deleteShim } from './delete.js';
export { STATUS, ShimProcess } from './process.js';
export { EVENTS_SERVICE, NAMESPACE_METADATA_KEY, TASK_METHODS, TASK_SERVICE, codec, shimProtos, taskMethodCodecs } from './protos.js';
export { DEFAULT_CONFIG_PATH, SHIM_VERSION } from './version.js';
