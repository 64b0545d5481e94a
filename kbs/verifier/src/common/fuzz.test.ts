import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { isKccError } from '@kata-cc/errors';
import { sharedDir } from '@kata-cc/testing';
import { createVerifier } from '../registry.js';
import type { Tee } from '@kata-cc/kbs-types';

const V = (p: string): Uint8Array => new Uint8Array(readFileSync(sharedDir('vectors', p)));

/** Property: any truncation or byte flip of real evidence is refused with a stable VERIFIER_ code, never another exception. */
async function refusesCleanly(tee: Tee, seed: Uint8Array, config: Record<string, unknown>, runs: number): Promise<void> {
  const v = createVerifier(tee, { tees: { [tee]: config } });
  await fc.assert(
    fc.asyncProperty(fc.nat(seed.length - 1), fc.integer({ min: 1, max: 255 }), fc.boolean(), async (at, xor, truncate) => {
      const bytes = truncate ? seed.slice(0, at) : Uint8Array.from(seed);
      if (!truncate) bytes[at]! ^= xor;
      try {
        await v.verify(bytes, { reportData: new Uint8Array(48).fill(1) }, { now: new Date('2026-06-01') });
        return false; // report_data never matches: success would be a bug
      } catch (err) {
        return isKccError(err) && /^VERIFIER_[A-Z0-9_]+$/.test(err.code);
      }
    }),
    { numRuns: runs, seed: 42 },
  );
}

test('fuzz: mutated or truncated TDX quotes, SNP reports and TPM/Azure evidence fail with VERIFIER_ codes only', async () => {
  await refusesCleanly('tdx', V('go-tdx-guest/testing/testdata/quote_v5_sample.dat'), { allowMissingCollateral: true }, 150);
  await refusesCleanly('snp', V('trustee/deps/verifier/test_data/snp/test-report.bin'), { vek: V('trustee/deps/verifier/test_data/snp/test-vcek.der') }, 150);
  await refusesCleanly('tpm', V('trustee/deps/verifier/test_data/tpm_evidence.json'), { trustedAks: [] }, 100);
  await refusesCleanly('az-snp-vtpm', V('trustee/deps/verifier/test_data/az-snp-vtpm/evidence-v1.json'), {}, 100);
  await refusesCleanly('az-tdx-vtpm', V('trustee/deps/verifier/test_data/az-tdx-vtpm/evidence-v1.json'), { allowMissingCollateral: true }, 100);
  assert.ok(true);
});
