import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { sharedDir, tempDir } from '@kata-cc/testing';
import { fakeConfigfs } from '../common/fake-configfs.js';
import { TSM_REPORT_DIR } from '../common/tsm.js';
import { CCEL_PATH, TdxAttester, detectTdx, quoteMrConfigId, rtmrForPcr } from './tdx.js';

let tmp: { dir: string; cleanup: () => Promise<void> };
let quote: Buffer;
before(async () => {
  tmp = await tempDir('kcc-tdx-attester-');
  await mkdir(path.join(tmp.dir, TSM_REPORT_DIR), { recursive: true });
  await mkdir(path.join(tmp.dir, 'dev'), { recursive: true });
  await writeFile(path.join(tmp.dir, 'dev/tdx_guest'), '');
  quote = await readFile(sharedDir('vectors', 'trustee/deps/verifier/test_data/tdx_quote_6.dat'));
});
after(async () => { await tmp.cleanup(); });

/** The fake TDX module: a real quote whose report_data is replaced by the inblob. */
function fakeTdx(): ReturnType<typeof fakeConfigfs> {
  return fakeConfigfs({
    provider: 'tdx_guest',
    produce: (inblob) => {
      const q = Buffer.from(quote);
      Buffer.from(inblob).copy(q, 48 + 520);
      return { outblob: q };
    },
  });
}

test('TDX attester on a fake configfs: inblob = report_data padded to 64, quote returned, entry removed', async () => {
  const tsm = fakeTdx();
  const a = new TdxAttester({ tsm }, { root: tmp.dir });
  const rd = Buffer.alloc(48, 7);
  const ev = await a.getEvidence(rd);
  const q = Buffer.from(ev.quote, 'base64');
  assert.deepEqual(q.subarray(48 + 520, 48 + 584), Buffer.concat([rd, Buffer.alloc(16)]));
  assert.equal(ev.cc_eventlog, null);
  assert.equal(tsm.entriesCreated, 1);
  assert.equal((await import('node:fs')).readdirSync(path.join(tmp.dir, TSM_REPORT_DIR)).length, 0);
  await assert.rejects(a.getEvidence(Buffer.alloc(65)), { code: 'ATTESTER_REPORT_DATA_TOO_LONG' });
});

test('TDX attester on a fake configfs refuses a report when generation shows a concurrent writer or the provider differs', async () => {
  const racy = fakeConfigfs({ provider: 'tdx_guest', produce: () => ({ outblob: quote }), raceAfterInblob: true });
  await assert.rejects(new TdxAttester({ tsm: racy }, { root: tmp.dir }).getEvidence(Buffer.alloc(48)), { code: 'ATTESTER_EVIDENCE_FAILED', message: /generation is 2, expected 1/ });
  const sev = fakeConfigfs({ provider: 'sev_guest', produce: () => ({ outblob: quote }) });
  await assert.rejects(new TdxAttester({ tsm: sev }, { root: tmp.dir }).getEvidence(Buffer.alloc(48)), { message: /provider is "sev_guest"/ });
});

test('TDX attester sends the CCEL trimmed at its end, and checks init-data against MRCONFIGID', async () => {
  const ccel = await readFile(sharedDir('vectors', 'go-tdx-guest/testing/testdata/ccel/ccel_data.dat'));
  await mkdir(path.dirname(path.join(tmp.dir, CCEL_PATH)), { recursive: true });
  await writeFile(path.join(tmp.dir, CCEL_PATH), ccel);
  const a = new TdxAttester({ tsm: fakeTdx() }, { root: tmp.dir, env: {} });
  const ev = await a.getEvidence(Buffer.alloc(48));
  const log = Buffer.from(ev.cc_eventlog!, 'base64');
  assert.ok(log.length > 1000 && log.length < ccel.length);
  assert.deepEqual(log, ccel.subarray(0, log.length));
  const mrConfigId = quoteMrConfigId(quote);
  assert.equal(Buffer.from(mrConfigId).toString('hex').slice(0, 16), '889abf4718f037e3');
  assert.equal(await a.bindInitData(mrConfigId), 'verified');
  await assert.rejects(a.bindInitData(Buffer.alloc(48, 1)), { code: 'ATTESTER_INITDATA_MISMATCH' });
});

test('TDX detection and PCR → RTMR mapping', async () => {
  assert.equal(await detectTdx({ root: tmp.dir }), true);
  assert.equal(await detectTdx({ root: path.join(tmp.dir, 'nothing') }), false);
  assert.deepEqual([1, 7, 2, 6, 8, 15, 16, 17, 0].map(rtmrForPcr), [0, 0, 1, 1, 2, 2, 3, 3, 3]);
});
