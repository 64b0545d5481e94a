import { KccError } from '@kata-cc/errors';
import { silentLogger, type Logger } from '@kata-cc/log';
import { unaryMethod, type AnyMethodDefinition, type CallContext, type TtrpcServer } from '@kata-cc/ttrpc';
import { agentError } from './errors.js';
import { copyFile, reseedRandom, setGuestDateTime } from './guest-ops.js';
import { AgentMetrics } from './metrics.js';
import { addArpNeighbors, listInterfaces, listRoutes, updateInterface, updateRoutes } from './network.js';
import type { AgentPolicy } from './policy/policy.js';
import { AGENT_SERVICE, HEALTH_SERVICE, agentMethods, codec } from './proto.js';
import type { Sandbox } from './sandbox.js';

type Msg = Record<string, unknown>;
type Handler = (req: Msg, ctx: CallContext) => Promise<Msg> | Msg | Promise<void> | void;

/** JSON-safe policy input: bytes fields become arrays of numbers, as serde writes Vec<u8>. */
function policyInput(req: Msg): unknown {
  return JSON.parse(JSON.stringify(req, (_k, v: unknown) => {
    if (v && typeof v === 'object' && (v as { type?: unknown }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data)) return (v as { data: number[] }).data;
    return v;
  }));
}

/**
 * Registers grpc.AgentService and grpc.Health. Every AgentService request is first checked by
 * the agent policy under its protobuf message name, then served; methods this agent does not
 * provide answer UNIMPLEMENTED (AGENT_NOT_IMPLEMENTED) after the policy check, as kata's do.
 */
export function registerAgentService(server: TtrpcServer, sandbox: Sandbox, policy: AgentPolicy, logger: Logger = silentLogger, version = '0.1.0'): AgentMetrics {
  const metrics = new AgentMetrics(() => sandbox.containers.size);
  const handlers: Record<string, Handler> = {
    CreateSandbox: (r) => sandbox.createSandbox(r),
    DestroySandbox: () => sandbox.destroySandbox(),
    CreateContainer: (r, c) => sandbox.createContainer(r, c.signal),
    StartContainer: (r) => sandbox.startContainer(r),
    RemoveContainer: (r) => sandbox.removeContainer(r),
    ExecProcess: (r) => sandbox.execProcess(r),
    SignalProcess: (r) => sandbox.signalProcess(r),
    WaitProcess: (r, c) => sandbox.waitProcess(r, c.signal),
    WriteStdin: (r) => sandbox.writeStdin(r),
    ReadStdout: (r, c) => sandbox.readStream(r, 'stdout', c.signal),
    ReadStderr: (r, c) => sandbox.readStream(r, 'stderr', c.signal),
    CloseStdin: (r) => sandbox.closeStdin(r),
    TtyWinResize: (r) => sandbox.ttyWinResize(r),
    StatsContainer: (r) => sandbox.statsContainer(r),
    UpdateContainer: (r) => sandbox.updateContainer(r),
    PauseContainer: (r) => sandbox.pauseContainer(r, true),
    ResumeContainer: (r) => sandbox.pauseContainer(r, false),
    GetGuestDetails: (r) => sandbox.guestDetails(r),
    GetOOMEvent: (_r, c) => sandbox.nextOomEvent(c.signal),
    SetPolicy: (r) => policy.replace({ origin: 'SetPolicy', text: String(r['policy'] ?? '') }),
    CopyFile: (r) => copyFile(r),
    ReseedRandomDev: (r) => reseedRandom(r),
    // Only where the agent manages a guest: never set the clock of a host (tests on a Unix socket).
    SetGuestDateTime: (r) => { if (!sandbox.configuresGuest) throw agentError('AGENT_NOT_IMPLEMENTED', 'SetGuestDateTime is only served inside a guest'); return setGuestDateTime(r); },
    // All vCPUs and memory are online from boot (TEE configs use static resources).
    OnlineCPUMem: () => undefined,
    GetMetrics: () => metrics.text(),
    ListInterfaces: () => listInterfaces(),
    ListRoutes: () => listRoutes(),
    UpdateInterface: (r) => updateInterface(r),
    UpdateRoutes: (r) => updateRoutes(r),
    AddARPNeighbors: (r) => addArpNeighbors(r),
  };
  const methods: Record<string, AnyMethodDefinition> = {};
  for (const [name, types] of agentMethods()) {
    const messageName = types.request.split('.').pop() ?? types.request;
    const handler = handlers[name];
    methods[name] = unaryMethod<Msg, Msg>({
      requestType: codec(types.request),
      responseType: codec(types.response),
      handler: async (req, ctx) => {
        const t = Date.now();
        const end = metrics.duration.startTimer({ method: name });
        try {
          policy.check(messageName, name, policyInput(req));
          if (!handler) throw agentError('AGENT_NOT_IMPLEMENTED', `${name} is not implemented by this agent`);
          const res = await handler(req, ctx);
          metrics.requests.inc({ method: name, code: 'OK' });
          if (name !== 'ReadStdout' && name !== 'ReadStderr' && name !== 'WriteStdin') logger.debug({ method: name, ms: Date.now() - t }, 'agent request served');
          return (res ?? {}) as Msg;
        } catch (err) {
          metrics.requests.inc({ method: name, code: err instanceof KccError ? err.code : 'INTERNAL' });
          if (!(err instanceof KccError && (err.code === 'AGENT_STREAM_EOF' || err.code === 'AGENT_POLICY_DENIED'))) logger.warn({ method: name, err }, 'agent request failed');
          throw err;
        } finally {
          end();
        }
      },
    });
  }
  server.register(AGENT_SERVICE, methods);
  server.register(HEALTH_SERVICE, {
    Check: unaryMethod<Msg, Msg>({ requestType: codec('grpc.CheckRequest'), responseType: codec('grpc.HealthCheckResponse'), handler: async () => ({ status: 1 }) }),
    Version: unaryMethod<Msg, Msg>({
      requestType: codec('grpc.CheckRequest'), responseType: codec('grpc.VersionCheckResponse'),
      handler: async () => ({ grpc_version: '1.0.0', agent_version: version }),
    }),
  });
  return metrics;
}
