import { randomUUID } from 'node:crypto';
import { KccError } from '@kata-cc/errors';
import { silentLogger, type Logger } from '@kata-cc/log';
import {
  bindingHashForTee,
  isTee,
  parseAdditionalEvidence,
  primaryRuntimeData,
  runtimeDataDigest,
} from '@kata-cc/kbs-types';
import type { Attestation, Tee, TeeClass } from '@kata-cc/kbs-types';
import { createVerifier, type Verifier, type VerifierConfig } from '@kata-cc/verifier';
import { DEFAULT_ISSUER, EAR_PROFILE, VERIFIER_ID, anyClaimSet, statusOf, TRUST_CLAIMS, type TrustVector } from './ear.js';
import { parseInitData } from './init-data.js';
import { PolicyEngine } from './policy-engine.js';
import { DEFAULT_CPU_POLICY, REFERENCE_VALUE_MODULE } from './policies/default-cpu.js';
import type { TokenSigner } from './token.js';

/** What the service needs from storage (the KBS store satisfies it structurally). */
export interface AsStore {
  getPolicy(kind: 'attestation', id: string): Promise<string | undefined>;
  putPolicy(kind: 'attestation', id: string, body: string): Promise<void>;
  /** Unexpired reference values, name -> values. */
  listReferenceValues(now: number): Promise<Record<string, unknown>>;
}

export interface AttestationServiceOptions {
  store: AsStore;
  signer: TokenSigner;
  verifier?: VerifierConfig;
  /** Dev mode: sample evidence is verified and may be affirmed. */
  devMode?: boolean;
  tokenLifetimeSeconds?: number;
  issuer?: string;
  logger?: Logger;
  /** Clock in ms (token iat/exp, reference-value expiry); tests advance it instead of sleeping. */
  now?: () => number;
}

export interface AttestInput {
  tee: Tee;
  /** The nonce of the session (trusted, from storage), not the one in the message. */
  nonce: string;
  attestation: Attestation;
}

/** Evidence -> verifier claims -> attestation policy -> EAR token (trustee's built-in AS). */
export class AttestationService {
  readonly #o: Required<Omit<AttestationServiceOptions, 'verifier'>> & { verifier: VerifierConfig };
  readonly #verifiers = new Map<Tee, Verifier>();
  readonly engine = new PolicyEngine();

  constructor(options: AttestationServiceOptions) {
    this.#o = {
      devMode: false,
      tokenLifetimeSeconds: 300,
      issuer: DEFAULT_ISSUER,
      logger: silentLogger,
      now: Date.now,
      ...options,
      verifier: { ...(options.verifier ?? {}), allowSample: options.devMode === true },
    };
  }

  get signer(): TokenSigner {
    return this.#o.signer;
  }

  /** Fails now (at /auth) when this TEE would be refused at /attest (sample off, no verifier). */
  checkTee(tee: Tee): void {
    this.#verifier(tee);
  }

  #verifier(tee: Tee): Verifier {
    let v = this.#verifiers.get(tee);
    if (v === undefined) {
      v = createVerifier(tee, this.#o.verifier);
      this.#verifiers.set(tee, v);
    }
    return v;
  }

  /** The TEE's own /auth nonce (trustee's supplemental challenge: `se`), or undefined for a random one. */
  async challenge(tee: Tee): Promise<string | undefined> {
    const v = this.#verifier(tee);
    return v.challenge === undefined ? undefined : v.challenge();
  }

  /** Verifies the evidence bound to `nonce` and the TEE key, appraises it, returns the token. */
  async attest(input: AttestInput): Promise<{ token: string; claims: Record<string, unknown> }> {
    const { tee, nonce, attestation } = input;
    const rd = attestation['runtime-data'];
    const ev = attestation['tee-evidence'];
    const initData = attestation['init-data'] ? parseInitData(attestation['init-data']) : undefined;
    const runtimeData = primaryRuntimeData(nonce, rd['tee-pubkey'], ev.additional_evidence);
    const reportData = runtimeDataDigest(runtimeData, bindingHashForTee(tee));
    const expected = initData === undefined ? { reportData } : { reportData, initDataHash: initData.hash };
    const primary = await this.#verifier(tee).verify(ev.primary_evidence, expected);

    const refValues = await this.#o.store.listReferenceValues(this.#o.now());
    const submods: Record<string, unknown> = {};
    const counters: Partial<Record<TeeClass, number>> = {};
    const add = async (t: string, cls: TeeClass, claims: Record<string, unknown>, runtime: unknown, rdHex: string): Promise<void> => {
      const annotated: Record<string, unknown> = { [t]: claims, report_data: rdHex, runtime_data_claims: runtime };
      if (initData !== undefined) {
        annotated['init_data'] = Buffer.from(initData.hash).toString('hex');
        annotated['init_data_claims'] = initData.claims;
      }
      const index = counters[cls] ?? 0;
      counters[cls] = index + 1;
      submods[`${cls}${index}`] = await this.#appraise(cls, annotated, refValues);
    };
    await add(tee, primary.teeClass, primary.claims, runtimeData, Buffer.from(reportData).toString('hex'));

    // Device TEEs bind {nonce, tee-pubkey} only (trustee: additional evidence runtime data).
    for (const [dev, evidence] of parseAdditionalEvidence(ev.additional_evidence)) {
      if (!isTee(dev)) continue;
      const devRuntime = { nonce, 'tee-pubkey': rd['tee-pubkey'] };
      const devDigest = runtimeDataDigest(devRuntime, 'sha384');
      const r = await this.#verifier(dev).verify(evidence, { reportData: devDigest });
      await add(dev, r.teeClass, r.claims, devRuntime, Buffer.from(devDigest).toString('hex'));
    }

    const iat = Math.floor(this.#o.now() / 1000);
    const claims: Record<string, unknown> = {
      eat_profile: EAR_PROFILE,
      iat,
      nbf: iat,
      exp: iat + this.#o.tokenLifetimeSeconds,
      iss: this.#o.issuer,
      jti: randomUUID(),
      'ear.verifier-id': VERIFIER_ID,
      submods,
    };
    return { token: this.#o.signer.sign(claims), claims };
  }

  async #appraise(cls: TeeClass, annotated: Record<string, unknown>, refValues: Record<string, unknown>): Promise<Record<string, unknown>> {
    const policyId = `default_${cls}`;
    const source = (await this.#o.store.getPolicy('attestation', policyId)) ?? DEFAULT_CPU_POLICY;
    const modules = [
      { path: `${policyId}.rego`, source },
      { path: 'query_reference_value.rego', source: REFERENCE_VALUE_MODULE },
    ];
    const data = { reference_values: refValues, dev_mode: this.#o.devMode };
    const out = this.engine.evaluate(modules, 'data.policy.trust_claims', annotated, data);
    const vector = toTrustVector(out, policyId);
    // trustee: `data.policy.extensions` = [{name, key, value}] become appraisal extensions,
    // serialized as `name: value` members of the submod (e.g. ear.trustee.identifiers).
    const ext = source.includes('extensions') ? toExtensions(this.engine.evaluate(modules, 'data.policy.extensions', annotated, data), policyId) : {};
    return {
      'ear.status': statusOf(vector),
      'ear.trustworthiness-vector': vector,
      'ear.appraisal-policy-id': policyId,
      ...ext,
      'ear.veraison.annotated-evidence': annotated,
    };
  }

  /** Validates (compiles) and stores an attestation policy. */
  async setPolicy(id: string, rego: string): Promise<void> {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) {
      throw new KccError({ kind: 'INVALID_ARGUMENT', code: 'AS_POLICY_ID_INVALID', message: `Invalid attestation policy id ${JSON.stringify(id)}` });
    }
    this.engine.compile([{ path: `${id}.rego`, source: rego }, { path: 'query_reference_value.rego', source: REFERENCE_VALUE_MODULE }]);
    await this.#o.store.putPolicy('attestation', id, rego);
    this.#o.logger.info({ policyId: id }, 'attestation policy set');
  }
}

const RESERVED = new Set(['ear.status', 'ear.trustworthiness-vector', 'ear.appraisal-policy-id', 'ear.veraison.annotated-evidence']);

function toExtensions(out: unknown, policyId: string): Record<string, unknown> {
  if (out === undefined) return {};
  const bad = (why: string): never => {
    throw new KccError({ kind: 'FAILED_PRECONDITION', code: 'AS_POLICY_EXTENSIONS_INVALID', message: `Policy "${policyId}" extensions ${why}` });
  };
  if (!Array.isArray(out)) bad('must be an array of {name, key, value}');
  const ext: Record<string, unknown> = {};
  for (const e of out as unknown[]) {
    const o = e as Record<string, unknown> | null;
    if (typeof o !== 'object' || o === null || typeof o['name'] !== 'string' || !Number.isInteger(o['key']) || !('value' in o)) bad('entries must be {name: string, key: integer, value}');
    const name = o!['name'] as string;
    if (RESERVED.has(name) || name in ext) bad(`name "${name.slice(0, 64)}" is reserved or repeated`);
    ext[name] = o!['value'];
  }
  return ext;
}

function toTrustVector(out: unknown, policyId: string): TrustVector {
  if (typeof out !== 'object' || out === null || Array.isArray(out)) {
    throw new KccError({ kind: 'FAILED_PRECONDITION', code: 'AS_POLICY_NO_TRUST_CLAIMS', message: `Attestation policy "${policyId}" produced no trust_claims object` });
  }
  const vector: TrustVector = {};
  for (const c of TRUST_CLAIMS) {
    const v = (out as Record<string, unknown>)[c];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < -128 || v > 127) {
      throw new KccError({ kind: 'FAILED_PRECONDITION', code: 'AS_POLICY_NO_TRUST_CLAIMS', message: `Trust claim "${c}" of policy "${policyId}" must be an integer in -128..127` });
    }
    vector[c] = v;
  }
  // rust-ear refuses to issue a token when the policy set no claim.
  if (!anyClaimSet(vector)) {
    throw new KccError({ kind: 'FAILED_PRECONDITION', code: 'AS_POLICY_NO_TRUST_CLAIMS', message: `At least one policy claim must be set (policy "${policyId}")` });
  }
  return vector;
}
