/**
 * @kata-cc/kata-agent: the in-guest kata agent: kata's agent ttRPC API (grpc.AgentService,
 * grpc.Health) over vsock or virtio-serial, containers run by runc from guest-pulled images,
 * agent policy (Rego) on every request, initdata.
 */
export { startAgent, AGENT_VERSION } from './agent.js';
export type { AgentDeps, RunningAgent } from './agent.js';
export { parseCmdline } from './config.js';
export type { AgentConfig } from './config.js';
export { AGENT_CODES, agentError } from './errors.js';
export type { AgentCode } from './errors.js';
export { decodeInitdataDisk, parseInitdata, readInitdataDevice } from './initdata.js';
export type { Initdata } from './initdata.js';
export { AgentPolicy } from './policy/policy.js';
export { AGENT_SERVICE, HEALTH_SERVICE, agentProtos, codec } from './proto.js';
export { Sandbox } from './sandbox.js';
export { guestSpec, ociKey, protoToOci } from './container/oci-spec.js';
export type { ImagePuller, PulledImage } from './storage/image-puller.js';
export { openChannel } from './transport/registry.js';
export type { AgentChannel } from './transport/channel.js';
export { AgentClient } from './client.js';
