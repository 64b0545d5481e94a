import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { sharedDir, tempDir } from '@kata-cc/testing';
import { AzSnpVtpmVerifier } from './az-snp-vtpm-verifier.js';

const D = (f: string): string => sharedDir('vectors', 'trustee/deps/verifier/test_data/az-snp-vtpm', f);
const challenge = new Uint8Array(Buffer.from('challenge'));

/** Values asserted by trustee `deps/verifier/src/az_snp_vtpm/mod.rs`. */
const CASES: [string, string, string][] = [
  ['evidence-v0.json', '6368616c6c656e6765', 'e15c44796beabf46abcec7c57e590942041e47497e4ec27571c8b7664f48dced'],
  ['evidence-v1.json', '6368616c6c656e6765', 'e15c44796beabf46abcec7c57e590942041e47497e4ec27571c8b7664f48dced'],
  ['evidence-v2.json', '982f5c6e45df0ed3f10b6f60b02f0c8390e281300f3805e2279c16168cd6ae9aa398f647caa2338748cd0fd9f5f819ef', '84275b2f4312cd4fc6cbe6b152ad3c3683e513d9f1e23c34fca160c8cca7a6a7'],
  ['evidence-genoa.json', '0218488bae25d2509232bf676f1a66a30d7372add909109b36016ef136f2938ca05475f8b46094de6b64270ea35d950f', 'afd689d0bb1c5f36f023fbaf574135f555a28a10c1f6b938d2a25e70c7783338'],
];

test('every az-snp-vtpm vector verifies (SNP report + VCEK chain, HCL binding, vTPM quote) with trustee\'s claims', async () => {
  for (const [file, reportData, pcr00] of CASES) {
    const out = await new AzSnpVtpmVerifier().inspect(readFileSync(D(file), 'utf8'), { reportData: new Uint8Array(Buffer.from(reportData, 'hex')) });
    assert.equal(out.claims['report_data'], reportData, file);
    assert.equal((out.claims['tpm'] as Record<string, string>)['pcr00'], pcr00, file);
  }
});

test('az-snp-vtpm: wrong nonce, tampered quote, PCR and HCL runtime data each fail with their own code', async () => {
  const ev = JSON.parse(readFileSync(D('evidence-v1.json'), 'utf8')) as { tpm_quote: { message: string; pcrs: string[] }; hcl_report: string };
  const v = new AzSnpVtpmVerifier();
  await assert.rejects(v.inspect(ev, { reportData: new Uint8Array(Buffer.from('other')) }), { code: 'VERIFIER_AZ_SNP_REPORT_DATA_MISMATCH' });
  const msg = Buffer.from(ev.tpm_quote.message, 'hex');
  msg[msg.length - 3]! ^= 1;
  await assert.rejects(v.inspect({ ...ev, tpm_quote: { ...ev.tpm_quote, message: msg.toString('hex') } }, { reportData: challenge }), { code: 'VERIFIER_AZ_SNP_QUOTE_SIGNATURE' });
  const pcrs = [...ev.tpm_quote.pcrs];
  pcrs[0] = '00'.repeat(32);
  await assert.rejects(v.inspect({ ...ev, tpm_quote: { ...ev.tpm_quote, pcrs } }, { reportData: challenge }), { code: 'VERIFIER_AZ_SNP_PCR_DIGEST_MISMATCH' });
  const hcl = Buffer.from(ev.hcl_report, 'base64url');
  const at = hcl.indexOf(Buffer.from('"kty":"RSA"')) + 2;
  hcl[at] = 'K'.charCodeAt(0); // runtime data no longer hashes to report_data
  await assert.rejects(v.inspect({ ...ev, hcl_report: hcl.toString('base64url') }, { reportData: challenge }), { code: 'VERIFIER_AZ_SNP_HCL_BINDING' });
  const snp = Buffer.from(ev.hcl_report, 'base64url');
  snp[0x20 + 0x90]! ^= 1; // measurement inside the signed SNP report
  await assert.rejects(v.inspect({ ...ev, hcl_report: snp.toString('base64url') }, { reportData: challenge }), { code: 'VERIFIER_SNP_REPORT_SIGNATURE' });
});

test('az-snp-vtpm: the ARK CRL settings apply as for snp (kdsUrl fetched, a malformed arkCrls file refused, none at hand skipped or required)', async () => {
  const ev = readFileSync(D('evidence-genoa.json'), 'utf8');
  const reportData = new Uint8Array(Buffer.from(CASES[3]![1], 'hex'));
  const { dir, cleanup } = await tempDir('kcc-az-snp-crl-');
  try {
    const bad = path.join(dir, 'bad.crl');
    writeFileSync(bad, 'not a CRL');
    await assert.rejects(new AzSnpVtpmVerifier({ arkCrls: [bad] }).inspect(ev, { reportData }), { code: 'VERIFIER_SNP_CRL_MALFORMED' });
    await assert.rejects(new AzSnpVtpmVerifier({ kdsUrl: 'http://127.0.0.1:9', requireArkCrl: true }).inspect(ev, { reportData }), { code: 'VERIFIER_SNP_CRL_FETCH_FAILED' });
    await assert.rejects(new AzSnpVtpmVerifier({ requireArkCrl: true }).inspect(ev, { reportData }), { code: 'VERIFIER_SNP_CRL_MISSING' });
    const out = await new AzSnpVtpmVerifier({ kdsUrl: 'http://127.0.0.1:9' }).inspect(ev, { reportData });
    assert.ok(out.skipped.includes('ark_crl'), 'an unreachable KDS leaves the CRL check listed as skipped');
  } finally {
    await cleanup();
  }
});
