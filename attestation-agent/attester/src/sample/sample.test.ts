import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { hasCode } from '@kata-cc/errors';
import { SampleAttester } from './sample.js';

test('SampleAttester.getEvidence() returns trustee sample evidence with the unpadded report data', async () => {
  const digest = createHash('sha384').update('runtime data').digest();
  const evidence = await new SampleAttester().getEvidence(digest);
  assert.deepEqual(Object.keys(evidence).sort(), ['report_data', 'svn']);
  assert.equal(evidence.svn, '1');
  assert.deepEqual(Buffer.from(evidence.report_data, 'base64'), digest);
});

test('SampleAttester.getEvidence() rejects report data longer than 64 bytes', async () => {
  await assert.rejects(new SampleAttester().getEvidence(new Uint8Array(65)), (e) => hasCode(e, 'ATTESTER_REPORT_DATA_TOO_LONG'));
});

test('SampleAttester.runtimeMeasurement extends software registers like an RTMR', async () => {
  const rm = new SampleAttester().runtimeMeasurement;
  const d = createHash('sha384').update('event').digest();
  await rm.extend(d, 17);
  const want = createHash('sha384').update(new Uint8Array(48)).update(d).digest();
  assert.deepEqual(Buffer.from(await rm.read(17)), want);
  assert.deepEqual(Buffer.from(await rm.read(16)), Buffer.alloc(48));
  await assert.rejects(rm.extend(new Uint8Array(32), 17), (e) => hasCode(e, 'ATTESTER_INVALID_ARGUMENT'));
  await assert.rejects(rm.read(24), (e) => hasCode(e, 'ATTESTER_INVALID_ARGUMENT'));
});
