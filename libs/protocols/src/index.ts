/**
 * @kata-cc/protocols: the .proto files of every wire we speak (kata agent, AA, CDH,
 * keyprovider, containerd shim task v2 and events) and one loader. Each wire's .proto lives in
 * `proto/<origin>/` with the upstream field numbers; code that needs one calls `loadProtos`.
 */
export { PROTO_DIR, loadProtos } from './load.js';
