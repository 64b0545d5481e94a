/**
 * The ttRPC envelope messages, as `request.proto` of github.com/containerd/ttrpc defines them:
 *   Request  { string service = 1; string method = 2; bytes payload = 3; int64 timeout_nano = 4; repeated KeyValue metadata = 5; }
 *   Response { google.rpc.Status status = 1; bytes payload = 2; }
 *   KeyValue { string key = 1; string value = 2; }
 *   google.rpc.Status { int32 code = 1; string message = 2; repeated google.protobuf.Any details = 3; }
 */
import { PbWriter, readFields, utf8 } from './wire.js';

export interface KeyValue {
  key: string;
  value: string;
}

export interface TtrpcRequest {
  service: string;
  method: string;
  payload: Uint8Array;
  /** Deadline relative to receipt, in nanoseconds; 0 = none. */
  timeoutNano: bigint;
  metadata: KeyValue[];
}

export interface AnyMessage {
  typeUrl: string;
  value: Uint8Array;
}

export interface RpcStatus {
  code: number;
  message: string;
  details: AnyMessage[];
}

export interface TtrpcResponse {
  status?: RpcStatus;
  payload: Uint8Array;
}

export function encodeRequest(r: TtrpcRequest): Buffer {
  const w = new PbWriter().string(1, r.service).string(2, r.method).bytes(3, r.payload).uint(4, r.timeoutNano);
  for (const kv of r.metadata) w.bytes(5, new PbWriter().string(1, kv.key).string(2, kv.value).finish(), true);
  return w.finish();
}

export function decodeRequest(buf: Uint8Array): TtrpcRequest {
  const r: TtrpcRequest = { service: '', method: '', payload: new Uint8Array(0), timeoutNano: 0n, metadata: [] };
  for (const f of readFields(buf)) {
    if (f.field === 1) r.service = utf8(f.bytes);
    else if (f.field === 2) r.method = utf8(f.bytes);
    else if (f.field === 3 && f.bytes) r.payload = f.bytes;
    else if (f.field === 4 && f.varint !== undefined) r.timeoutNano = BigInt.asIntN(64, f.varint);
    else if (f.field === 5 && f.bytes) {
      const kv: KeyValue = { key: '', value: '' };
      for (const g of readFields(f.bytes)) {
        if (g.field === 1) kv.key = utf8(g.bytes);
        else if (g.field === 2) kv.value = utf8(g.bytes);
      }
      r.metadata.push(kv);
    }
  }
  return r;
}

function encodeStatus(s: RpcStatus): Buffer {
  const w = new PbWriter().uint(1, s.code).string(2, s.message);
  for (const d of s.details) w.bytes(3, new PbWriter().string(1, d.typeUrl).bytes(2, d.value).finish(), true);
  return w.finish();
}

function decodeStatus(buf: Uint8Array): RpcStatus {
  const s: RpcStatus = { code: 0, message: '', details: [] };
  for (const f of readFields(buf)) {
    if (f.field === 1 && f.varint !== undefined) s.code = Number(BigInt.asIntN(32, f.varint));
    else if (f.field === 2) s.message = utf8(f.bytes);
    else if (f.field === 3 && f.bytes) {
      const a: AnyMessage = { typeUrl: '', value: new Uint8Array(0) };
      for (const g of readFields(f.bytes)) {
        if (g.field === 1) a.typeUrl = utf8(g.bytes);
        else if (g.field === 2 && g.bytes) a.value = g.bytes;
      }
      s.details.push(a);
    }
  }
  return s;
}

export function encodeResponse(r: TtrpcResponse): Buffer {
  const w = new PbWriter();
  if (r.status !== undefined && r.status.code !== 0) w.bytes(1, encodeStatus(r.status), true);
  return w.bytes(2, r.payload).finish();
}

export function decodeResponse(buf: Uint8Array): TtrpcResponse {
  const r: TtrpcResponse = { payload: new Uint8Array(0) };
  for (const f of readFields(buf)) {
    if (f.field === 1 && f.bytes) r.status = decodeStatus(f.bytes);
    else if (f.field === 2 && f.bytes) r.payload = f.bytes;
  }
  return r;
}

/** `google.rpc.ErrorInfo{reason = 1, domain = 2}`: how a stable error code crosses the wire. */
export const ERROR_INFO_TYPE_URL = 'type.googleapis.com/google.rpc.ErrorInfo';

export function encodeErrorInfo(reason: string, domain: string): Buffer {
  return new PbWriter().string(1, reason).string(2, domain).finish();
}

export function decodeErrorInfo(buf: Uint8Array): { reason: string; domain: string } {
  const out = { reason: '', domain: '' };
  for (const f of readFields(buf)) {
    if (f.field === 1) out.reason = utf8(f.bytes);
    else if (f.field === 2) out.domain = utf8(f.bytes);
  }
  return out;
}
