import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasCode } from '@kata-cc/errors';
import { createAttester, detectAdditionalTees, detectTee } from './registry.js';
import { padReportData } from './errors.js';

test('createAttester() creates the sample attester', () => {
  assert.equal(createAttester('sample').tee, 'sample');
});

test('createAttester() refuses a TEE this build has no attester for', () => {
  assert.throws(() => createAttester('nvidiadpu'), (e) => hasCode(e, 'ATTESTER_UNSUPPORTED_TEE'));
});

test('detectTee() refuses to fall back to sample unless allowed', async () => {
  const root = '/nonexistent-kata-cc-root';
  await assert.rejects(detectTee({}, { root, env: {} }), (e) => hasCode(e, 'ATTESTER_NO_TEE_DETECTED'));
  const warnings: unknown[] = [];
  const logger = { trace() {}, debug() {}, info() {}, warn: (o: unknown) => warnings.push(o), error() {}, fatal() {}, child() { return logger; } };
  assert.equal(await detectTee({ allowSample: true }, { root, logger, env: {} }), 'sample');
  assert.equal(warnings.length, 1);
});

test('padReportData() zero-pads and refuses to truncate', () => {
  assert.deepEqual(padReportData(new Uint8Array([1, 2]), 4), new Uint8Array([1, 2, 0, 0]));
  assert.throws(() => padReportData(new Uint8Array(5), 4), (e) => hasCode(e, 'ATTESTER_REPORT_DATA_TOO_LONG'));
});

test('detectTee() finds a TPM named by AA_TPM_DEVICE and createAttester() builds its attester', async () => {
  assert.equal(await detectTee({}, { root: '/nonexistent-kata-cc-root', env: { AA_TPM_DEVICE: 'tcp://127.0.0.1:1' } }), 'tpm');
  assert.equal(createAttester('tpm').tee, 'tpm');
});

test('detectAdditionalTees() finds the sample device only when ENABLE_SAMPLE_DEVICE is set', async () => {
  assert.deepEqual(await detectAdditionalTees({ env: {} }), []);
  assert.deepEqual(await detectAdditionalTees({ env: { ENABLE_SAMPLE_DEVICE: '1' } }), ['sampledevice']);
  const ev = await createAttester('sampledevice').getEvidence(new Uint8Array([1, 2, 3]));
  assert.deepEqual(ev, { svn: '2', report_data: 'AQID' });
});
