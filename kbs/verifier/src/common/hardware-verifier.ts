/**
 * What every hardware verifier (tdx, snp, se, tpm, az-*-vtpm) shares: the `inspect` entry point
 * kbs-cli uses on evidence whose binding it may not know, and the KBS `verify` path built on it.
 */
import { KccError } from '@kata-cc/errors';
import type { Tee } from '@kata-cc/kbs-types';
import type { ExpectedBinding, VerifiedEvidence, VerifyOptions, Verifier } from '../verifier.js';

/** Binding for inspection: both parts optional (kbs-cli verify without --report-data). */
export type OptionalBinding = Partial<ExpectedBinding>;

/** Result of a hardware verifier: the KBS result plus what was not checked and why. */
export interface HardwareVerified extends VerifiedEvidence {
  /** Checks skipped because the caller allowed it (missing collateral, no binding given). */
  skipped: string[];
}

/**
 * A hardware verifier. `verify` (the KBS path) always checks the binding; `inspect` lets
 * kbs-cli verify evidence whose runtime data it does not know.
 */
export interface HardwareVerifier extends Verifier {
  inspect(evidence: unknown, expected: OptionalBinding, options?: VerifyOptions): Promise<HardwareVerified>;
}

export function isHardwareVerifier(v: Verifier): v is HardwareVerifier {
  return typeof (v as Partial<HardwareVerifier>).inspect === 'function';
}

/**
 * The base of the hardware verifiers: keeps the TEE's config section (every field optional, so
 * a missing section means the defaults) and implements `verify` once on top of `inspect`.
 */
export abstract class ConfiguredHardwareVerifier<Config extends object> implements HardwareVerifier {
  abstract readonly tee: Tee;
  protected readonly config: Partial<Config>;

  constructor(config: Partial<Config> = {}) {
    this.config = config;
  }

  abstract inspect(evidence: unknown, expected: OptionalBinding, options?: VerifyOptions): Promise<HardwareVerified>;

  /** The KBS path: refuses to run without a report_data binding. */
  async verify(evidence: unknown, expected: ExpectedBinding, options?: VerifyOptions): Promise<VerifiedEvidence> {
    // SECURITY: the KBS always passes the handshake digest; an empty one would disable binding.
    if (expected.reportData.length === 0) {
      throw new KccError({ kind: 'INTERNAL', code: 'VERIFIER_BINDING_MISSING', message: 'Expected report_data is empty' });
    }
    const r = await this.inspect(evidence, expected, options);
    const out: VerifiedEvidence = { claims: r.claims, teeClass: r.teeClass };
    if (r.tcbStatus !== undefined) out.tcbStatus = r.tcbStatus;
    return out;
  }
}
