/**
 * @kata-cc/sandbox: one pod VM (hypervisor + the kata agent API client) and what the shim
 * needs to drive it: guest-pull storage, the OCI spec in the agent's form, a FAKE agent for
 * tests without a bootable guest. It does not know containerd: that is @kata-cc/shim.
 */
export { AGENT_SERVICE, AgentClient, HEALTH_SERVICE, agentProtos, methodCodecs } from './agent-client.js';
export type { AgentClientOptions } from './agent-client.js';
export { AGENT_POLICY_ANNOTATION, Sandbox, agentPolicyFromAnnotations, sandboxDir } from './sandbox.js';
export type { SandboxOptions, SandboxTimings } from './sandbox.js';
export { toAgentProcess, toAgentSpec } from './oci.js';
export { CRI_CONTAINER_TYPE, CRI_IMAGE_NAME, CRI_SANDBOX_ID, CRI_SANDBOX_NAME, CRI_SANDBOX_NAMESPACE, guestPullStorage, guestRootfsPath } from './storage.js';
export { fakeAgentServer } from './fake-agent/fake-agent.js';
export type { FakeAgentOptions } from './fake-agent/fake-agent.js';
export { FAKE_AGENT_MAIN } from './fake-agent/path.js';
