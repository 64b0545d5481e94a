/**
 * @kata-cc/kbs: Key Broker Service HTTP server.
 */
export {};
