/**
 * @kata-cc/ttrpc: ttRPC framing, client and server over node:net streams.
 */
export {};
