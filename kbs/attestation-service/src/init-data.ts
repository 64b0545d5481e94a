import { parse as parseToml } from 'smol-toml';
import { KccError, messageOf } from '@kata-cc/errors';
import { digest, parseHashAlgorithm } from '@kata-cc/kbs-types';
import type { InitData } from '@kata-cc/kbs-types';

export interface ParsedInitData {
  /** `algorithm` digest of the TOML body exactly as sent. */
  hash: Uint8Array;
  /** The TOML `data` map; `aa.toml` and `cdh.toml` converted from TOML strings to objects. */
  claims: Record<string, unknown>;
}

function bad(message: string, cause?: unknown): KccError {
  return new KccError({ kind: 'INVALID_ARGUMENT', code: 'AS_INIT_DATA_INVALID', message, cause });
}

/** Parses init-data as trustee's built-in AS does: only `format = "toml"`. */
export function parseInitData(initData: InitData): ParsedInitData {
  if (initData.format !== 'toml') throw bad(`Unsupported init-data format "${initData.format}"; only "toml" is accepted`);
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(initData.body) as Record<string, unknown>;
  } catch (e) {
    throw bad(`The init-data body is not valid TOML: ${messageOf(e)}`, e);
  }
  const alg = parseHashAlgorithm(doc['algorithm'] ?? 'sha384');
  const data = doc['data'];
  const claims: Record<string, unknown> = {};
  if (typeof data === 'object' && data !== null && !Array.isArray(data)) {
    for (const [k, v] of Object.entries(data as Record<string, unknown>)) {
      if ((k === 'aa.toml' || k === 'cdh.toml') && typeof v === 'string') {
        try {
          claims[k] = parseToml(v);
        } catch (e) {
          throw bad(`init-data "${k}" is not valid TOML: ${messageOf(e)}`, e);
        }
      } else {
        claims[k] = v;
      }
    }
  }
  // JSON round trip: plain prototypes and TOML dates as strings, as the claims go into a JWT.
  return { hash: digest(alg, initData.body), claims: JSON.parse(JSON.stringify(claims)) as Record<string, unknown> };
}
