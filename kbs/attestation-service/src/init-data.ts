import { parse as parseToml } from 'smol-toml';
import { KccError, messageOf } from '@kata-cc/errors';
import { digest, parseHashAlgorithm } from '@kata-cc/kbs-types';
import type { InitData } from '@kata-cc/kbs-types';

export interface ParsedInitData {
  /** `algorithm` digest of the TOML body exactly as sent. */
  hash: Uint8Array;
  /**
   * The TOML `data` map as trustee's AS exposes it (`parse_init_data`): `aa.toml` and
   * `cdh.toml` become objects when they parse as TOML (kept as strings otherwise); a
   * `policy.rego` holding `policy_data := {json}` is replaced by `agent_policy_claims`.
   */
  claims: Record<string, unknown>;
}

function bad(message: string, cause?: unknown): KccError {
  return new KccError({ kind: 'INVALID_ARGUMENT', code: 'AS_INIT_DATA_INVALID', message, cause });
}

/**
 * Parses init-data as trustee's built-in AS does: only `format = "toml"`, deserialized into
 * `Initdata {version: String, algorithm, data: map<String, String>}` (each field required, data
 * values strings), the digest over the body bytes as sent.
 */
export function parseInitData(initData: InitData): ParsedInitData {
  if (initData.format !== 'toml') throw bad(`Unsupported init-data format "${initData.format}"; only "toml" is accepted`);
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(initData.body) as Record<string, unknown>;
  } catch (e) {
    throw bad(`The init-data body is not valid TOML: ${messageOf(e)}`, e);
  }
  if (typeof doc['version'] !== 'string') throw bad('init-data needs a string "version"');
  if (doc['algorithm'] === undefined) throw bad('init-data needs an "algorithm" (sha256, sha384 or sha512)');
  let alg;
  try {
    alg = parseHashAlgorithm(doc['algorithm']);
  } catch (e) {
    throw bad(`init-data "algorithm": ${messageOf(e)}`, e);
  }
  const data = doc['data'];
  if (typeof data !== 'object' || data === null || Array.isArray(data) || data instanceof Date) throw bad('init-data needs a [data] table');
  const claims: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(data as Record<string, unknown>)) {
    if (typeof v !== 'string') throw bad(`init-data [data] "${k.slice(0, 64)}" must be a string`);
    claims[k] = v;
  }
  for (const k of ['cdh.toml', 'aa.toml']) {
    const v = claims[k];
    if (typeof v !== 'string') continue;
    try {
      // JSON round trip: plain prototypes and TOML dates as strings, as the claims go into a JWT.
      claims[k] = JSON.parse(JSON.stringify(parseToml(v))) as unknown;
    } catch {
      // trustee keeps a value that is not TOML as the string it is.
    }
  }
  const rego = claims['policy.rego'];
  if (typeof rego === 'string') {
    const policyData = extractPolicyData(rego);
    if (policyData !== undefined) {
      delete claims['policy.rego'];
      claims['agent_policy_claims'] = policyData;
    }
  }
  return { hash: digest(alg, initData.body), claims };
}

/**
 * trustee's `extract_policy_data`: the JSON object that starts at the first
 * `policy_data := {` and runs to the end of the policy (the genpolicy layout puts it last).
 * Anything after the object other than whitespace, or invalid JSON, gives undefined.
 */
export function extractPolicyData(rego: string): unknown {
  const marker = 'policy_data := {';
  const at = rego.indexOf(marker);
  if (at < 0) return undefined;
  try {
    return JSON.parse(rego.slice(at + marker.length - 1)) as unknown;
  } catch {
    return undefined;
  }
}
