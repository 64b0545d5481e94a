import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { sharedDir } from '@kata-cc/testing';
import { AzTdxVtpmVerifier } from './az-tdx-vtpm-verifier.js';

const D = (f: string): string => sharedDir('vectors', 'trustee/deps/verifier/test_data/az-tdx-vtpm', f);
const challenge = new Uint8Array(Buffer.from('challenge'));

test('az-tdx-vtpm v0 and v1 verify (TD quote signatures/PCK chain, HCL binding, vTPM quote): report_data = "challenge"', async () => {
  for (const f of ['evidence-v0.json', 'evidence-v1.json']) {
    const out = await new AzTdxVtpmVerifier({ allowMissingCollateral: true }).inspect(readFileSync(D(f), 'utf8'), { reportData: challenge });
    assert.equal(out.claims['report_data'], '6368616c6c656e6765', f);
    assert.equal((out.claims['quote'] as { body: Record<string, string> }).body['mr_td']!.slice(0, 16), '024a32b070383331', f);
    assert.deepEqual(out.skipped, ['root_ca_crl', 'pck_crl', 'qe_identity', 'tcb_info'], f);
  }
});

test('az-tdx-vtpm: collateral is required by default; wrong nonce, foreign TD quote and tampered quote fail with their codes', async () => {
  const ev = JSON.parse(readFileSync(D('evidence-v1.json'), 'utf8')) as { td_quote: string; tpm_quote: { signature: string } };
  await assert.rejects(new AzTdxVtpmVerifier().inspect(ev, { reportData: challenge }), { code: 'VERIFIER_TDX_COLLATERAL_MISSING' });
  const v = new AzTdxVtpmVerifier({ allowMissingCollateral: true });
  await assert.rejects(v.inspect(ev, { reportData: new Uint8Array(9) }), { code: 'VERIFIER_AZ_TDX_REPORT_DATA_MISMATCH' });
  const other = readFileSync(sharedDir('vectors', 'trustee/deps/verifier/test_data/tdx_quote_5.dat')).toString('base64url');
  await assert.rejects(v.inspect({ ...ev, td_quote: other }, { reportData: challenge }), { code: 'VERIFIER_AZ_TDX_HCL_BINDING' });
  const sig = Buffer.from(ev.tpm_quote.signature, 'hex');
  sig[10]! ^= 1;
  await assert.rejects(v.inspect({ ...ev, tpm_quote: { ...ev.tpm_quote, signature: sig.toString('hex') } }, { reportData: challenge }), { code: 'VERIFIER_AZ_TDX_QUOTE_SIGNATURE' });
});
