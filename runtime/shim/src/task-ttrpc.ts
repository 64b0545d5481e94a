import { KccError } from '@kata-cc/errors';
import { TtrpcServer, unaryMethod, type AnyMethodDefinition } from '@kata-cc/ttrpc';
import type { Logger } from '@kata-cc/log';
import { TASK_METHODS, TASK_SERVICE, taskMethodCodecs, type Msg, type TaskMethod } from './protos.js';
import type { TaskService } from './task-service.js';

/** Binds every containerd.task.v2.Task method to the service (exhaustive over shim.proto). */
function handlerFor(svc: TaskService, method: TaskMethod): (req: Msg) => Promise<Msg> {
  switch (method) {
    case 'State': return (r) => svc.state(r);
    case 'Create': return (r) => svc.create(r);
    case 'Start': return (r) => svc.start(r);
    case 'Delete': return (r) => svc.delete(r);
    case 'Pids': return () => svc.pids();
    case 'Pause': return (r) => svc.pause(r);
    case 'Resume': return (r) => svc.resume(r);
    case 'Kill': return (r) => svc.kill(r);
    case 'Exec': return (r) => svc.exec(r);
    case 'ResizePty': return (r) => svc.resizePty(r);
    case 'CloseIO': return (r) => svc.closeIO(r);
    case 'Update': return (r) => svc.update(r);
    case 'Wait': return (r) => svc.wait(r);
    case 'Stats': return (r) => svc.stats(r);
    case 'Connect': return () => svc.connect();
    case 'Shutdown': return () => svc.shutdown();
    case 'Checkpoint':
      return async () => {
        // containerd maps UNIMPLEMENTED to errdefs.ErrNotImplemented, as the shim README requires.
        throw new KccError({ kind: 'NOT_IMPLEMENTED', code: 'SHIM_CHECKPOINT_UNSUPPORTED', message: 'Checkpoint is not supported for confidential guests' });
      };
  }
}

/** A ttRPC server exposing `containerd.task.v2.Task`. */
export function taskServer(svc: TaskService, logger?: Logger): TtrpcServer {
  const server = new TtrpcServer(logger ? { logger } : {});
  const methods: Record<string, AnyMethodDefinition> = {};
  for (const m of TASK_METHODS) {
    const c = taskMethodCodecs(m);
    const h = handlerFor(svc, m);
    methods[m] = unaryMethod({ requestType: c.req, responseType: c.res, handler: (req: Msg) => h(req) });
  }
  server.register(TASK_SERVICE, methods);
  return server;
}
