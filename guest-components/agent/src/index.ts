/**
 * @kata-cc/kata-agent: In-guest kata agent: container lifecycle over ttRPC.
 */
export {};
