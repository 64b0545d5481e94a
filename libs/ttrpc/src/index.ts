/**
 * @kata-cc/ttrpc: the ttRPC protocol of github.com/containerd/ttrpc (framing, Request and
 * Response envelopes, google.rpc.Status errors) with a client and a server over any node
 * Duplex: Unix sockets, a virtio-serial port's char device, vsock. Unary calls only (what the
 * containerd Task API and the kata agent API use). Not a protobuf runtime: payload types come
 * from the caller (see `protobufCodec`).
 */
export { TtrpcClient } from './client.js';
export type { CallOptions, TtrpcClientOptions } from './client.js';
export { TtrpcServer, unaryMethod } from './server.js';
export type { AnyMethodDefinition, CallContext, MethodDefinition, TtrpcServerDeps } from './server.js';
export { protobufCodec } from './codec.js';
export type { MessageCodec, ProtobufType } from './codec.js';
export {
  FLAG_NO_DATA, FLAG_REMOTE_CLOSED, FLAG_REMOTE_OPEN, FrameDecoder, HEADER_LENGTH, MAX_MESSAGE_LENGTH,
  MESSAGE_TYPE_DATA, MESSAGE_TYPE_REQUEST, MESSAGE_TYPE_RESPONSE, encodeFrame,
} from './frame.js';
export type { DecodedFrame, Frame } from './frame.js';
export { decodeRequest, decodeResponse, encodeRequest, encodeResponse } from './messages.js';
export type { AnyMessage, KeyValue, RpcStatus, TtrpcRequest, TtrpcResponse } from './messages.js';
export { GrpcCode, errorFromStatus, grpcCodeOfKind, statusFromError } from './status.js';
