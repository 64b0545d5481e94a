import { createDecipheriv } from 'node:crypto';
import { cdhError } from './errors.js';

/** Symmetric schemes of guest-components `crypto::WrapType`. */
export type WrapType = 'A256GCM' | 'A256CTR';

export function parseWrapType(value: unknown, where: string): WrapType {
  if (value === 'A256GCM' || value === 'A256CTR') return value;
  throw cdhError('CDH_KEYPROVIDER_INPUT', `Invalid ${where} wrap_type ${typeof value === 'string' ? JSON.stringify(value.slice(0, 64)) : `of type ${typeof value}`}: expected A256GCM or A256CTR`);
}

/**
 * Decrypts with AES-256 (guest-components `crypto::decrypt`): A256GCM takes `ciphertext || tag`
 * (16-byte tag) and a 12-byte IV; A256CTR a 16-byte IV and no authentication.
 */
export function decryptWith(key: Uint8Array, data: Uint8Array, iv: Uint8Array, wrapType: WrapType): Uint8Array {
  if (key.length !== 32) throw cdhError('CDH_DECRYPT_FAILED', `Cannot decrypt with a ${key.length}-byte key: ${wrapType} needs 32 bytes`);
  try {
    if (wrapType === 'A256GCM') {
      if (data.length < 16) throw new Error('ciphertext shorter than the GCM tag');
      const d = createDecipheriv('aes-256-gcm', key, iv);
      d.setAuthTag(data.subarray(data.length - 16));
      return Buffer.concat([d.update(data.subarray(0, data.length - 16)), d.final()]);
    }
    const d = createDecipheriv('aes-256-ctr', key, iv);
    return Buffer.concat([d.update(data), d.final()]);
  } catch (cause) {
    throw cdhError('CDH_DECRYPT_FAILED', `Cannot decrypt with ${wrapType}: wrong key, IV or tampered data`, { cause });
  }
}

/** Strict base64 (standard alphabet, padding optional): Rust's decoder rejects anything else. */
export function b64Strict(value: unknown, where: string): Buffer {
  if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) {
    throw cdhError('CDH_KEYPROVIDER_INPUT', `Invalid ${where}: expected standard base64`);
  }
  return Buffer.from(value, 'base64');
}
