/**
 * How payloads become typed messages. ttRPC payloads are protobuf bytes; the shim and agent
 * use protobufjs types loaded from @kata-cc/protocols, wrapped by `protobufCodec`.
 */
export interface MessageCodec<T> {
  encode(message: T): Uint8Array;
  decode(bytes: Uint8Array): T;
}

/** The subset of a protobufjs `Type` that `protobufCodec` uses (no protobufjs import here). */
export interface ProtobufType {
  readonly fullName: string;
  fromObject(object: Record<string, unknown>): unknown;
  encode(message: never): { finish(): Uint8Array };
  decode(bytes: Uint8Array): unknown;
  toObject(message: never, options?: Record<string, unknown>): Record<string, unknown>;
}

/**
 * A codec over a protobufjs type: plain objects in and out, int64 as JS numbers (pids,
 * timestamps and sizes stay far below 2^53), enums as numbers, bytes as Buffers, defaults
 * filled so readers never see `undefined` for scalar fields.
 */
export function protobufCodec<T = Record<string, unknown>>(type: ProtobufType): MessageCodec<T> {
  return {
    encode: (message: T): Uint8Array => type.encode(type.fromObject(message as Record<string, unknown>) as never).finish(),
    decode: (bytes: Uint8Array): T =>
      type.toObject(type.decode(bytes) as never, { longs: Number, enums: Number, bytes: Buffer, defaults: true, arrays: true, objects: true }) as T,
  };
}
