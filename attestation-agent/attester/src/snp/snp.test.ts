import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { sharedDir, tempDir } from '@kata-cc/testing';
import { fakeConfigfs } from '../common/fake-configfs.js';
import { TSM_REPORT_DIR } from '../common/tsm.js';
import { SnpAttester, detectSnp } from './snp.js';

const E2E = sharedDir('vectors', 'trustee/attestation-service/tests/e2e/evidence.json');
let tmp: { dir: string; cleanup: () => Promise<void> };
before(async () => {
  tmp = await tempDir('kcc-snp-attester-');
  await mkdir(path.join(tmp.dir, TSM_REPORT_DIR), { recursive: true });
  await mkdir(path.join(tmp.dir, 'sys/devices/platform/sev-guest'), { recursive: true });
});
after(async () => { await tmp.cleanup(); });

/** Rebuilds the binary report of trustee's e2e evidence (layout per the SNP ABI), for the fake AMD-SP. */
async function e2eReport(): Promise<{ report: Buffer; vcek: Buffer; json: Record<string, unknown> }> {
  const ev = JSON.parse(await readFile(E2E, 'utf8')) as { attestation_report: Record<string, unknown>; cert_chain: { data: number[] }[] };
  const { reportFromJsonForTest } = await import('./testing-report.js');
  return { report: reportFromJsonForTest(ev.attestation_report), vcek: Buffer.from(ev.cert_chain[0]!.data), json: ev.attestation_report };
}

function certTable(vcek: Buffer): Buffer {
  const guid = Buffer.from('8d75da6364e66445adc5f4b93be8accd', 'hex'); // VCEK 63da758d-e664-4564-adc5-f4b93be8accd
  const head = Buffer.alloc(48);
  guid.copy(head, 0);
  head.writeUInt32LE(48, 16);
  head.writeUInt32LE(vcek.length, 20);
  return Buffer.concat([head, vcek]);
}

test('SNP attester on a fake configfs: privlevel 0 then inblob, report serialized exactly like the sev crate, VCEK from auxblob', async () => {
  const { report, vcek, json } = await e2eReport();
  let seen: { inblob: Uint8Array; privlevel: number } | undefined;
  const tsm = fakeConfigfs({ provider: 'sev_guest', produce: (inblob, privlevel) => { seen = { inblob, privlevel }; return { outblob: report, auxblob: certTable(vcek) }; } });
  const a = new SnpAttester({ tsm }, { root: tmp.dir });
  const ev = await a.getEvidence(Buffer.alloc(48, 9));
  assert.equal(seen?.privlevel, 0);
  assert.deepEqual(Buffer.from(seen!.inblob), Buffer.concat([Buffer.alloc(48, 9), Buffer.alloc(16)]));
  assert.deepEqual(ev.attestation_report, json);
  assert.equal(ev.cert_chain?.[0]?.cert_type, 'VCEK');
  assert.deepEqual(Buffer.from(ev.cert_chain![0]!.data), vcek);
});

test('SNP attester: init-data against HOST_DATA, no cert table gives null, generation race refused, no configfs fails clearly', async () => {
  const { report } = await e2eReport();
  const tsm = fakeConfigfs({ provider: 'sev_guest', produce: () => ({ outblob: report }) });
  const a = new SnpAttester({ tsm }, { root: tmp.dir });
  assert.equal((await a.getEvidence(Buffer.alloc(32))).cert_chain, null);
  assert.equal(await a.bindInitData(report.subarray(0xc0, 0xe0)), 'verified');
  await assert.rejects(a.bindInitData(Buffer.alloc(32, 1)), { code: 'ATTESTER_INITDATA_MISMATCH' });
  const racy = fakeConfigfs({ provider: 'sev_guest', produce: () => ({ outblob: report }), raceAfterInblob: true });
  await assert.rejects(new SnpAttester({ tsm: racy }, { root: tmp.dir }).getEvidence(Buffer.alloc(32)), { message: /generation is 3, expected 2/ });
  await assert.rejects(new SnpAttester({}, { root: path.join(tmp.dir, 'none') }).getEvidence(Buffer.alloc(32)), { code: 'ATTESTER_DEVICE_NOT_FOUND', message: /Neither configfs-tsm .* nor \/dev\/sev-guest/ });
  assert.equal(await detectSnp({ root: tmp.dir }), true);
  assert.equal(await detectSnp({ root: path.join(tmp.dir, 'none') }), false);
  await writeFile(path.join(tmp.dir, 'unused'), '');
});
