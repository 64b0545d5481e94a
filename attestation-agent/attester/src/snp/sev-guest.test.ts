import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { constants } from 'node:os';
import path from 'node:path';
import { sharedDir, tempDir } from '@kata-cc/testing';
import { fakeConfigfs } from '../common/fake-configfs.js';
import { deviceError } from '../common/device.js';
import { TSM_REPORT_DIR } from '../common/tsm.js';
import { fakeSevGuest } from './fake-sev-guest.js';
import { nativeSevGuest, parseSnpReportResponse, sevGuestExtReport, sevGuestReport, snpReportRequest } from './sev-guest.js';
import { SnpAttester } from './snp.js';

const E2E = sharedDir('vectors', 'trustee/attestation-service/tests/e2e/evidence.json');
let tmp: { dir: string; cleanup: () => Promise<void> };
let tsmRoot: string;
let devRoot: string;
let report: Buffer;
let vcek: Buffer;

before(async () => {
  tmp = await tempDir('kcc-sev-guest-');
  tsmRoot = path.join(tmp.dir, 'with-tsm');
  devRoot = path.join(tmp.dir, 'dev-only');
  await mkdir(path.join(tsmRoot, TSM_REPORT_DIR), { recursive: true });
  await mkdir(path.join(devRoot, 'dev'), { recursive: true });
  await writeFile(path.join(devRoot, 'dev/sev-guest'), '');
  const ev = JSON.parse(await readFile(E2E, 'utf8')) as { attestation_report: Record<string, unknown>; cert_chain: { data: number[] }[] };
  const { reportFromJsonForTest } = await import('./testing-report.js');
  report = reportFromJsonForTest(ev.attestation_report);
  vcek = Buffer.from(ev.cert_chain[0]!.data);
});
after(async () => { await tmp.cleanup(); });

/** A GHCB certificate table: entries {guid LE-mixed, offset, length}, a zero entry, then the blobs. */
function certTable(entries: [string, Buffer][]): Buffer {
  const head = Buffer.alloc(24 * (entries.length + 1));
  let off = head.length;
  entries.forEach(([guid, data], i) => {
    const h = guid.replaceAll('-', '');
    const g = Buffer.concat([Buffer.from(h.slice(0, 8), 'hex').reverse(), Buffer.from(h.slice(8, 12), 'hex').reverse(), Buffer.from(h.slice(12, 16), 'hex').reverse(), Buffer.from(h.slice(16), 'hex')]);
    g.copy(head, 24 * i);
    head.writeUInt32LE(off, 24 * i + 16);
    head.writeUInt32LE(data.length, 24 * i + 20);
    off += data.length;
  });
  return Buffer.concat([head, ...entries.map(([, d]) => d)]);
}

test('SNP attester without configfs-tsm uses a FAKE /dev/sev-guest: same evidence as configfs-tsm, certificate-length retry', async () => {
  const crl = Buffer.alloc(3000, 7);
  const table = certTable([['63da758d-e664-4564-adc5-f4b93be8accd', vcek], ['92f81bc3-5811-4d3d-97ff-d19f88dc67ea', crl]]);
  assert.ok(table.length > 4096, 'the table needs more than the first page');
  const seen: { data: Buffer; vmpl: number }[] = [];
  const dev = fakeSevGuest({ produce: (data, vmpl) => { seen.push({ data: Buffer.from(data), vmpl }); return report; }, certTable: table });
  const viaDev = await new SnpAttester({ sevGuest: dev }, { root: devRoot }).getEvidence(Buffer.alloc(48, 5));
  assert.deepEqual(dev.calls, [{ call: 'ext', certsLen: 4096 }, { call: 'ext', certsLen: 8192 }]);
  assert.deepEqual(seen.at(-1), { data: Buffer.concat([Buffer.alloc(48, 5), Buffer.alloc(16)]), vmpl: 0 });
  const tsm = fakeConfigfs({ provider: 'sev_guest', produce: () => ({ outblob: report, auxblob: table }) });
  const viaTsm = await new SnpAttester({ tsm, sevGuest: fakeSevGuest({ produce: () => { throw new Error('configfs-tsm must win'); } }) }, { root: tsmRoot }).getEvidence(Buffer.alloc(48, 5));
  assert.deepEqual(viaDev, viaTsm);
  assert.deepEqual(viaDev.cert_chain?.map((c) => c.cert_type), ['VCEK', 'CRL']);
  assert.deepEqual(Buffer.from(viaDev.cert_chain![0]!.data), vcek);
  // Older kernels answer the short buffer with EINVAL instead of EIO: the same retry.
  const old = fakeSevGuest({ produce: () => report, certTable: table, invalidLenErrno: constants.errno.EINVAL });
  assert.deepEqual(await new SnpAttester({ sevGuest: old }, { root: devRoot }).getEvidence(Buffer.alloc(48, 5)), viaDev);
  assert.equal(old.calls.length, 2);
});

test('FAKE /dev/sev-guest: no host certificates gives cert_chain null in one call; init-data uses SNP_GET_REPORT', async () => {
  const dev = fakeSevGuest({ produce: () => report });
  const a = new SnpAttester({ sevGuest: dev }, { root: devRoot });
  assert.equal((await a.getEvidence(Buffer.alloc(64))).cert_chain, null);
  assert.equal(await a.bindInitData(report.subarray(0xc0, 0xe0)), 'verified');
  assert.deepEqual(dev.calls, [{ call: 'ext', certsLen: 4096 }, { call: 'report', certsLen: 0 }]);
});

test('FAKE /dev/sev-guest errors: firmware status and fw_error, report_size bounds, oversized or repeated length requests', async () => {
  const d64 = new Uint8Array(64);
  const dev = '/fake/sev-guest';
  await assert.rejects(sevGuestReport(fakeSevGuest({ produce: () => report, status: 0x16 }), dev, d64, 0), { code: 'ATTESTER_FIRMWARE_ERROR', message: /status 0x16 INVALID_PARAM/ });
  await assert.rejects(sevGuestExtReport(fakeSevGuest({ produce: () => report, fwError: 0x27 }), dev, d64, 0), (e: { code: string; details: Record<string, unknown> }) => e.code === 'ATTESTER_FIRMWARE_ERROR' && e.details['fw_error'] === 0x27 && e.details['errno'] === 'EIO');
  await assert.rejects(sevGuestReport(fakeSevGuest({ produce: () => report, reportSize: 3969 }), dev, d64, 0), { code: 'ATTESTER_DEVICE_RESPONSE_INVALID' });
  await assert.rejects(sevGuestReport(fakeSevGuest({ produce: () => report, reportSize: 100 }), dev, d64, 0), { code: 'ATTESTER_DEVICE_RESPONSE_INVALID' });
  const big = Buffer.alloc(5000);
  await assert.rejects(sevGuestExtReport(fakeSevGuest({ produce: () => report, certTable: big, neededLen: 0x5000 }), dev, d64, 0), { code: 'ATTESTER_DEVICE_RESPONSE_INVALID', message: /20480-byte/ });
  await assert.rejects(sevGuestExtReport(fakeSevGuest({ produce: () => report, certTable: big, neededLen: 4097 }), dev, d64, 0), { code: 'ATTESTER_DEVICE_RESPONSE_INVALID' });
  const stubborn = fakeSevGuest({ produce: () => report, certTable: Buffer.alloc(9000), neededLen: 8192 });
  await assert.rejects(sevGuestExtReport(stubborn, dev, d64, 0), { code: 'ATTESTER_DEVICE_IO_ERROR', message: /EIO/ });
  assert.equal(stubborn.calls.length, 2);
  await assert.rejects(sevGuestExtReport(fakeSevGuest({ produce: () => report }), dev, d64, 0, 1000), { code: 'ATTESTER_DEVICE_IO_ERROR', message: /EINVAL/ });
  assert.throws(() => snpReportRequest(d64, 4), { code: 'ATTESTER_INVALID_ARGUMENT' });
  assert.throws(() => parseSnpReportResponse(new Uint8Array(8)), { code: 'ATTESTER_DEVICE_RESPONSE_INVALID' });
  const req = Buffer.from(snpReportRequest(Buffer.alloc(64, 1), 2));
  assert.equal(req.readUInt32LE(64), 2);
  assert.ok(req.subarray(68).every((x) => x === 0));
});

test('errno mapping: ENOENT/ENODEV at open, EACCES, ENOTTY, other errno each get their code', () => {
  const e = constants.errno;
  const code = (stage: 'open' | 'ioctl', errno: number): string => deviceError('/dev/x', 'CALL', { stage, errno }).code;
  assert.equal(code('open', e.ENOENT), 'ATTESTER_DEVICE_NOT_FOUND');
  assert.equal(code('open', e.ENODEV), 'ATTESTER_DEVICE_NOT_FOUND');
  assert.equal(code('open', e.EACCES), 'ATTESTER_DEVICE_PERMISSION_DENIED');
  assert.equal(code('ioctl', e.EPERM), 'ATTESTER_DEVICE_PERMISSION_DENIED');
  assert.equal(code('ioctl', e.ENOTTY), 'ATTESTER_DEVICE_IOCTL_UNSUPPORTED');
  assert.equal(code('ioctl', e.EIO), 'ATTESTER_DEVICE_IO_ERROR');
  assert.equal(code('ioctl', e.EINVAL), 'ATTESTER_DEVICE_IO_ERROR');
});

test('REAL addon: SNP_GET_REPORT / SNP_GET_EXT_REPORT into this kernel on /dev/null give ENOTTY, a missing device ENOENT', async () => {
  const real = nativeSevGuest();
  await assert.rejects(sevGuestReport(real, '/dev/null', new Uint8Array(64), 0), { code: 'ATTESTER_DEVICE_IOCTL_UNSUPPORTED', message: /ENOTTY/ });
  await assert.rejects(sevGuestExtReport(real, '/dev/null', new Uint8Array(64), 0), { code: 'ATTESTER_DEVICE_IOCTL_UNSUPPORTED' });
  await assert.rejects(sevGuestReport(real, path.join(tmp.dir, 'no-such-device'), new Uint8Array(64), 0), { code: 'ATTESTER_DEVICE_NOT_FOUND' });
  // The whole attester with the real addon: <root>/dev/sev-guest is a link to /dev/null.
  const root = path.join(tmp.dir, 'null-root');
  await mkdir(path.join(root, 'dev'), { recursive: true });
  await symlink('/dev/null', path.join(root, 'dev/sev-guest'));
  await assert.rejects(new SnpAttester({}, { root }).getEvidence(new Uint8Array(64)), { code: 'ATTESTER_DEVICE_IOCTL_UNSUPPORTED', details: { device: path.join(root, 'dev/sev-guest'), call: 'SNP_GET_EXT_REPORT', stage: 'ioctl', errno: 'ENOTTY' } });
});
