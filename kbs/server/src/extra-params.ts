/**
 * The Challenge's `extra-params` (trustee `generate_extra_params`): `""` for every TEE except
 * IBM SE, whose runtime-data digest must be SHA-512. A client that lists its supported hashes
 * gets `{"selected-hash-algorithm": "sha512"}`; a list without SHA-512 is refused now rather
 * than at /attest; no list (an older client) gets `""`, exactly as trustee answers.
 */
import { KccError } from '@kata-cc/errors';
import type { Tee } from '@kata-cc/kbs-types';

const SE_HASH = 'sha512';

export function challengeExtraParams(tee: Tee, requestExtra: unknown): unknown {
  if (tee !== 'se' || typeof requestExtra !== 'object' || requestExtra === null) return '';
  const listed = (requestExtra as Record<string, unknown>)['supported-hash-algorithms'];
  if (listed === undefined) return '';
  if (!Array.isArray(listed)) {
    throw seHashError(`"supported-hash-algorithms" must be an array, got ${typeof listed}`);
  }
  const names = listed.filter((x): x is string => typeof x === 'string').map((x) => x.toLowerCase());
  if (!names.includes(SE_HASH)) {
    throw seHashError(`IBM SE needs ${SE_HASH}, which the client does not list as supported`);
  }
  return { 'selected-hash-algorithm': SE_HASH };
}

function seHashError(message: string): KccError {
  return new KccError({ kind: 'INVALID_ARGUMENT', code: 'KBS_HASH_NEGOTIATION_FAILED', message });
}
