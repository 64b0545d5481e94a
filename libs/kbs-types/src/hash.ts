import { createHash } from 'node:crypto';
import { KccError } from '@kata-cc/errors';
import type { Tee } from './tee.js';

/** Hash algorithm names as kbs-types `HashAlgorithm` serializes them (lowercase). */
export const HASH_ALGORITHMS = ['sha256', 'sha384', 'sha512', 'sm3'] as const;
export type HashAlgorithm = (typeof HASH_ALGORITHMS)[number];

/** The default binding hash (kbs-types `HashAlgorithm::default()`). */
export const DEFAULT_HASH_ALGORITHM: HashAlgorithm = 'sha384';

const DIGEST_LEN: Record<HashAlgorithm, number> = { sha256: 32, sha384: 48, sha512: 64, sm3: 32 };

export function isHashAlgorithm(value: unknown): value is HashAlgorithm {
  return typeof value === 'string' && (HASH_ALGORITHMS as readonly string[]).includes(value);
}

/** Parses a hash name case-insensitively (strum `ascii_case_insensitive`). */
export function parseHashAlgorithm(value: unknown): HashAlgorithm {
  const lower = typeof value === 'string' ? value.toLowerCase() : value;
  if (isHashAlgorithm(lower)) return lower;
  throw new KccError({
    kind: 'INVALID_ARGUMENT',
    code: 'KBS_UNSUPPORTED_HASH_ALGORITHM',
    message: `Unsupported hash algorithm ${JSON.stringify(value)}; expected one of ${HASH_ALGORITHMS.join(', ')}`,
  });
}

export function digestLength(alg: HashAlgorithm): number {
  return DIGEST_LEN[alg];
}

export function digest(alg: HashAlgorithm, material: Uint8Array | string): Uint8Array {
  return new Uint8Array(createHash(alg).update(material).digest());
}

/**
 * The hash the KBS uses to bind runtime data for a TEE: SHA-512 for IBM SE, SHA-384 for every
 * other TEE (trustee `coco/builtin.rs`).
 */
export function bindingHashForTee(tee: Tee): HashAlgorithm {
  return tee === 'se' ? 'sha512' : 'sha384';
}
