import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasCode } from '@kata-cc/errors';
import { b64Encode, expectedReportData } from '@kata-cc/kbs-types';
import type { TeePubKey } from '@kata-cc/kbs-types';
import { createVerifier } from '../index.js';

const key: TeePubKey = { kty: 'EC', crv: 'P-256', alg: 'ECDH-ES+A256KW', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0' };
const rd = expectedReportData('nonce-1', key, '', 'sha384');

test('sample verifier is refused unless dev mode is on', () => {
  assert.throws(() => createVerifier('sample', {}), (e) => hasCode(e, 'VERIFIER_SAMPLE_DISABLED'));
  assert.throws(() => createVerifier('sampledevice'), (e) => hasCode(e, 'VERIFIER_SAMPLE_DISABLED'));
});

test('sample verifier accepts bound evidence and returns trustee claims', async () => {
  const v = createVerifier('sample', { allowSample: true });
  const r = await v.verify({ svn: '1', report_data: b64Encode(rd) }, { reportData: rd, initDataHash: new Uint8Array([1, 2]) });
  assert.equal(r.teeClass, 'cpu');
  assert.deepEqual(r.claims, { svn: '1', report_data: b64Encode(rd), launch_digest: 'abcde', platform_version: { major: 1, minor: 4 }, debug: false, init_data: 'AQI=' });
});

test('sample verifier refuses evidence bound to another nonce (replay)', async () => {
  const v = createVerifier('sample', { allowSample: true });
  const other = expectedReportData('nonce-2', key, '', 'sha384');
  await assert.rejects(v.verify({ svn: '1', report_data: b64Encode(other) }, { reportData: rd }), (e) => hasCode(e, 'VERIFIER_REPORT_DATA_MISMATCH'));
  await assert.rejects(v.verify({ svn: '1' }, { reportData: rd }), (e) => hasCode(e, 'VERIFIER_REPORT_DATA_MISMATCH'));
  await assert.rejects(v.verify('x', { reportData: rd }), (e) => hasCode(e, 'VERIFIER_EVIDENCE_INVALID'));
  await assert.rejects(v.verify({ svn: 1 }, { reportData: rd }), (e) => hasCode(e, 'VERIFIER_EVIDENCE_INVALID'));
});

test('hardware TEEs without a verifier in this build give VERIFIER_UNSUPPORTED_TEE', () => {
  assert.throws(() => createVerifier('csv'), (e) => hasCode(e, 'VERIFIER_UNSUPPORTED_TEE'));
});

test('the registry builds the TDX and SNP verifiers', () => {
  assert.equal(createVerifier('tdx').tee, 'tdx');
  assert.equal(createVerifier('snp').tee, 'snp');
});
