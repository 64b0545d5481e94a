/**
 * @kata-cc/vsock: AF_VSOCK for Node.js through a small N-API addon (native/vsock.c, built by
 * node-gyp at `npm install`). Used by the guest agent (listen on port 1024) and the host runtime
 * (dial the guest's CID). The same addon carries the guest agent's pty helpers.
 */
export { connectVsock, listenVsock, VsockServer, VMADDR_CID_ANY, VMADDR_CID_LOCAL, VMADDR_CID_HOST } from './vsock.js';
export { FdDuplex, writeAll } from './fd-duplex.js';
export { loadNativeAddon, builtAddonPath, GUEST_ADDON_PATH } from './addon.js';
export type { NativeAddon } from './addon.js';
export { VSOCK_ERROR_CODES, vsockError } from './errors.js';
export type { VsockErrorCode } from './errors.js';
