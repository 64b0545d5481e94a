import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { sharedDir } from '@kata-cc/testing';
import { TpmVerifier } from './tpm-verifier.js';
import { parseTpmAttest, parseTpmSignature } from './quote.js';

const ev = JSON.parse(readFileSync(sharedDir('vectors', 'trustee/deps/verifier/test_data/tpm_evidence.json'), 'utf8')) as {
  ak_public: string;
  tpm_quote: { message: string; signature: string; pcrs: string[] };
};
const akPem = `-----BEGIN PUBLIC KEY-----\n${ev.ak_public}\n-----END PUBLIC KEY-----\n`;

test('trustee tpm_evidence.json: TPMS_ATTEST and TPMT_SIGNATURE parse (quote over 24 SHA-256 PCRs, RSASSA-SHA256)', () => {
  const a = parseTpmAttest(Buffer.from(ev.tpm_quote.message, 'base64'));
  assert.equal(a.extraData.length, 64);
  assert.deepEqual(a.selections, [{ hash: 'sha256', pcrs: Array.from({ length: 24 }, (_, i) => i) }]);
  const s = parseTpmSignature(Buffer.from(ev.tpm_quote.signature, 'base64'));
  assert.equal(s.alg, 'rsassa');
  assert.equal(s.hash, 'sha256');
});

test('trustee tpm_evidence.json verifies with its AK trusted; claims carry report_data, init_data (PCR8) and pcrNN', async () => {
  const out = await new TpmVerifier({ trustedAks: [akPem] }).inspect(ev, {});
  const nonce = parseTpmAttest(Buffer.from(ev.tpm_quote.message, 'base64')).extraData;
  assert.equal(out.claims['report_data'], Buffer.from(nonce).toString('hex'));
  assert.equal(out.claims['init_data'], ev.tpm_quote.pcrs[8]);
  assert.equal(out.claims['pcr23'], ev.tpm_quote.pcrs[23]);
  await new TpmVerifier({ trustedAks: [akPem] }).inspect(ev, { reportData: nonce.subarray(0, 48) });
});

test('TPM: untrusted AK, tampered message, tampered PCR, wrong nonce each fail with their own code', async () => {
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
  await assert.rejects(new TpmVerifier({ trustedAks: [other] }).inspect(ev, {}), { code: 'VERIFIER_TPM_AK_UNTRUSTED' });
  const v = new TpmVerifier({ trustedAks: [akPem] });
  const msg = Buffer.from(ev.tpm_quote.message, 'base64');
  msg[msg.length - 1]! ^= 1;
  await assert.rejects(v.inspect({ ...ev, tpm_quote: { ...ev.tpm_quote, message: msg.toString('base64') } }, {}), { code: 'VERIFIER_TPM_QUOTE_SIGNATURE' });
  const pcrs = [...ev.tpm_quote.pcrs];
  pcrs[3] = 'ff'.repeat(32);
  await assert.rejects(v.inspect({ ...ev, tpm_quote: { ...ev.tpm_quote, pcrs } }, {}), { code: 'VERIFIER_TPM_PCR_DIGEST_MISMATCH' });
  await assert.rejects(v.inspect(ev, { reportData: new Uint8Array(48).fill(7) }), { code: 'VERIFIER_TPM_REPORT_DATA_MISMATCH' });
  await assert.rejects(v.inspect(ev, { reportData: new Uint8Array(48), initDataHash: new Uint8Array(32).fill(1) }), (e: { code?: string }) => /^VERIFIER_TPM_(REPORT_DATA|INIT_DATA)_MISMATCH$/.test(e.code ?? ''));
  await assert.rejects(v.inspect({ ak_public: ev.ak_public }, {}), { code: 'VERIFIER_TPM_EVIDENCE_MALFORMED' });
  await assert.rejects(v.inspect({ ak_public: '!!' }, {}), { code: 'VERIFIER_TPM_EVIDENCE_MALFORMED' });
});

test('TPM: only PCRs covered by the signed digest become claims', async () => {
  const out = await new TpmVerifier({ trustedAks: [akPem] }).inspect(ev, {});
  const selected = parseTpmAttest(Buffer.from(ev.tpm_quote.message, 'base64')).selections[0]!.pcrs;
  assert.deepEqual(Object.keys(out.claims).filter((k) => /^pcr\d\d$/.test(k)).length, selected.length);
});
