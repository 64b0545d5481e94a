import { timingSafeEqual } from 'node:crypto';
import { KccError } from '@kata-cc/errors';
import { b64Decode, b64Encode } from '@kata-cc/kbs-types';
import type { Tee } from '@kata-cc/kbs-types';
import type { ExpectedBinding, VerifiedEvidence, Verifier } from '../verifier.js';

/**
 * The sample verifier (trustee `deps/verifier/src/sample`): evidence `{"svn", "report_data"}`
 * with no hardware signature, so it proves NOTHING about the platform. It exists to test the
 * KBS loop without a TEE; the registry refuses to build it unless dev mode is on.
 */
export class SampleVerifier implements Verifier {
  readonly tee: Tee;
  readonly #svnClaimOnly: boolean;

  constructor(tee: 'sample' | 'sampledevice' = 'sample') {
    this.tee = tee;
    this.#svnClaimOnly = tee === 'sampledevice';
  }

  async verify(evidence: unknown, expected: ExpectedBinding): Promise<VerifiedEvidence> {
    const ev = parseSampleEvidence(evidence);
    const got = b64Decode(ev.report_data);
    // SECURITY: the sample evidence must carry exactly the unpadded runtime-data digest, so a
    // replayed evidence from another session (other nonce or key) is refused even in dev mode.
    if (got.length !== expected.reportData.length || !timingSafeEqual(got, expected.reportData)) {
      throw new KccError({
        kind: 'PERMISSION_DENIED',
        code: 'VERIFIER_REPORT_DATA_MISMATCH',
        message: 'The report_data in the sample evidence does not bind this session\'s nonce and TEE key',
        details: { tee: this.tee },
      });
    }
    const claims: Record<string, unknown> = this.#svnClaimOnly
      ? { svn: ev.svn, report_data: ev.report_data }
      : {
          svn: ev.svn,
          report_data: ev.report_data,
          launch_digest: 'abcde',
          platform_version: { major: 1, minor: 4 },
          debug: false,
        };
    // trustee adds the init-data hash unverified so init-data features can be tested.
    if (expected.initDataHash !== undefined) claims['init_data'] = b64Encode(expected.initDataHash);
    return { claims, teeClass: this.#svnClaimOnly ? 'gpu' : 'cpu' };
  }
}

interface SampleEvidence {
  svn: string;
  report_data: string;
}

function parseSampleEvidence(evidence: unknown): SampleEvidence {
  if (typeof evidence !== 'object' || evidence === null || Array.isArray(evidence)) {
    throw invalid('Sample evidence must be a JSON object');
  }
  const e = evidence as Record<string, unknown>;
  if (typeof e['svn'] !== 'string') throw invalid('Sample evidence needs a string "svn"');
  const rd = e['report_data'] ?? '';
  if (typeof rd !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(rd)) throw invalid('Sample evidence "report_data" must be base64');
  return { svn: e['svn'], report_data: rd };
}

function invalid(message: string): KccError {
  return new KccError({ kind: 'INVALID_ARGUMENT', code: 'VERIFIER_EVIDENCE_INVALID', message, details: { tee: 'sample' } });
}
