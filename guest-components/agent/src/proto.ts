import { loadProtos } from '@kata-cc/protocols';
import { protobufCodec, type MessageCodec, type ProtobufType } from '@kata-cc/ttrpc';

/** ttRPC service names of kata's agent protos (package `grpc`). */
export const AGENT_SERVICE = 'grpc.AgentService';
export const HEALTH_SERVICE = 'grpc.Health';

let root: ReturnType<typeof loadProtos> | undefined;

/** The kata agent protos (agent.proto + health.proto and their imports), loaded once. */
export function agentProtos(): ReturnType<typeof loadProtos> {
  root ??= loadProtos('agent/agent.proto', 'agent/health.proto');
  return root;
}

/** A codec for a message of the agent protos by its full name (`grpc.CreateContainerRequest`). */
export function codec<T = Record<string, unknown>>(name: string): MessageCodec<T> {
  return protobufCodec<T>(agentProtos().lookupType(name) as unknown as ProtobufType);
}

/** [request type, response type] of every AgentService method, from the service descriptor. */
export function agentMethods(): Map<string, { request: string; response: string }> {
  const svc = agentProtos().lookupService(AGENT_SERVICE);
  const out = new Map<string, { request: string; response: string }>();
  for (const m of svc.methodsArray) {
    m.resolve();
    out.set(m.name, {
      request: (m.resolvedRequestType?.fullName ?? '').replace(/^\./, ''),
      response: (m.resolvedResponseType?.fullName ?? '').replace(/^\./, ''),
    });
  }
  return out;
}
