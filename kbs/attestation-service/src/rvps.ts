import { KccError } from '@kata-cc/errors';

/** A reference value as stored: the values (a JSON list, or a single value) and its expiry. */
export interface ReferenceValue {
  name: string;
  values: unknown;
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

/** The RVPS `sample` extractor's default lifetime: 12 months. */
export const DEFAULT_REFERENCE_VALUE_LIFETIME_MS = 365 * 24 * 3600 * 1000;

function bad(message: string): KccError {
  return new KccError({ kind: 'INVALID_ARGUMENT', code: 'AS_REFERENCE_VALUE_INVALID', message });
}

/**
 * Parses an RVPS `Message` (`{"version":"0.1.0","type":"sample","payload":"<base64 of
 * {name: [values]}>"}`, trustee `rvps/src/lib.rs`). Only the `sample` extractor exists here:
 * it stores values without a provenance signature, like trustee's.
 */
export function parseRvpsMessage(body: unknown, now = Date.now()): ReferenceValue[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw bad('The reference value message must be a JSON object');
  const m = body as Record<string, unknown>;
  for (const k of Object.keys(m)) {
    if (!['version', 'type', 'payload'].includes(k)) throw bad(`Unknown field "${k}" in the reference value message`);
  }
  // A bad value is named if it is a string (bounded), else by its type: JSON.stringify overflows on hostile nesting.
  const shown = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v.slice(0, 64)) : Array.isArray(v) ? 'an array' : v === null ? 'null' : `a ${typeof v}`);
  if (m['version'] !== '0.1.0') throw bad(`Unsupported RVPS message version ${shown(m['version'])}; expected "0.1.0"`);
  if (m['type'] !== 'sample') throw bad(`Unsupported reference value type ${shown(m['type'])}; only "sample" is supported`);
  if (typeof m['payload'] !== 'string') throw bad('Field "payload" must be a base64 string');
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(m['payload'], 'base64').toString('utf8'));
  } catch {
    throw bad('Field "payload" is not base64 of a JSON object');
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) throw bad('Field "payload" must decode to a JSON object of name -> values');
  const entries = Object.entries(payload as Record<string, unknown>);
  if (entries.length === 0) throw bad('The reference value payload is empty');
  return entries.map(([name, values]) => {
    if (!/^[A-Za-z0-9_.:-]{1,256}$/.test(name)) throw bad(`Invalid reference value name ${JSON.stringify(name)}`);
    return { name, values, expiresAt: now + DEFAULT_REFERENCE_VALUE_LIFETIME_MS };
  });
}
