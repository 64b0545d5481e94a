/**
 * SEV-SNP through /dev/sev-guest and IBM Secure Execution through the real KBS (not in dev
 * mode) on FAKE HARDWARE, in the way of kbs-fake-hw.test.ts (Azure vTPM guests are in
 * kbs-fake-hw-azure.test.ts). Our real KbsClient drives our real attesters; the hardware is
 * faked below the attester's own seam:
 *  - SNP on a guest kernel without configfs-tsm: `fakeSevGuest` (@kata-cc/attester/testing)
 *    answers SNP_GET_EXT_REPORT (with the kernel's INVALID_LEN certificate-buffer retry) with
 *    reports the fake AMD-SP of kbs-fake-hw signs on demand (test AMD CA, VCEK, ARK CRL).
 *  - IBM SE: the KBS's /auth nonce is its SeAttestationRequest (an ARCB encrypted to host-key
 *    documents made here with openssl; no IBM-signed ones exist, so skipHkdVerification as in
 *    the sample config), the real SE attester injects the session digest and runs the UV
 *    attestation call on `fakeUltravisor`, which holds one machine's host private key, unwraps
 *    the request and computes the HMAC measurement the KBS then verifies. default_cpu appraises
 *    SE over trustee's se.* reference value ids registered through kbs-cli.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, type KeyObject } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { SeAttester, SnpAttester, type UvIoctl } from '@kata-cc/attester';
import { fakeSevGuest, fakeUltravisor, hostKeyCoords } from '@kata-cc/attester/testing';
import { hasCode } from '@kata-cc/errors';
import { KbsClient } from '@kata-cc/kbs-client';
import { fakeSnpCa, fakeSnpPlatform, requireTool, tempDir, type FakeSnpPlatform } from '@kata-cc/testing';
import { referenceValues, snpReferenceValues, startPlainKbs, storeSecrets, type PlainKbs } from './kbs-fake-hw-harness.js';
import { attestAndGet, attestRefused, refused, replaying, seImageHeader, seMachine, seMeasurementKey, type SeMachine } from './kbs-fake-hw-more-harness.js';

let dir: string;
let cleanup: () => Promise<void>;
let kbs: PlainKbs;
let seA: SeMachine;
let seB: SeMachine;
let seC: SeMachine;
let image: { file: string; tags: Buffer };

const h = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const SECRET = { snp: 'released to a fake sev-guest SNP guest', se: 'released to a fake SE guest' };
const snpCa = fakeSnpCa('Milan');
const snpGood = fakeSnpPlatform({ ca: snpCa });
const snpOther = fakeSnpPlatform({ ca: snpCa, measurement: Buffer.alloc(48, 0xee) });

before(async () => {
  requireTool('openssl');
  ({ dir, cleanup } = await tempDir('kbs-fake-hw-more-'));
  // Machines A and B are the operator's (their host-key documents are in the KBS config); C is not.
  [seA, seB, seC] = await Promise.all([seMachine(dir, 'z-a'), seMachine(dir, 'z-b'), seMachine(dir, 'z-c')]);
  image = await seImageHeader(dir, 'image');
  const arkCrl = path.join(dir, 'milan-ark.crl');
  await writeFile(arkCrl, snpCa.arkCrl());
  kbs = await startPlainKbs(dir, {
    snp: { trustAnchors: { Milan: snpCa.trustAnchorPem }, arkCrls: [arkCrl], requireArkCrl: true },
    se: { measurementKeyPrivate: seMeasurementKey(), hostKeyDocuments: [seA.hkd, seB.hkd], imageHeader: image.file, skipHkdVerification: true },
  }, 'more');
  await referenceValues(dir, kbs, snpReferenceValues(snpGood), 'more');
  await storeSecrets(dir, kbs, SECRET);
});

after(async () => {
  await kbs?.stop();
  await cleanup?.();
});

/** The real SNP attester on a guest with /dev/sev-guest and no configfs-tsm; the fake kernel's AMD-SP is `chip`. */
async function sevGuestAttester(chip: FakeSnpPlatform): Promise<{ attester: SnpAttester; kernel: ReturnType<typeof fakeSevGuest> }> {
  const root = path.join(dir, `sev-guest-root-${Math.random().toString(36).slice(2, 8)}`);
  await mkdir(path.join(root, 'dev'), { recursive: true });
  await writeFile(path.join(root, 'dev/sev-guest'), '');
  const kernel = fakeSevGuest({ produce: (rd, vmpl) => chip.report(rd, { vmpl }), certTable: chip.certTable() });
  return { attester: new SnpAttester({ sevGuest: kernel }, { root, env: {} }), kernel };
}

test('fake SNP via /dev/sev-guest: SNP_GET_EXT_REPORT signed by the test VCEK, reference values registered -> affirming, resource released', async () => {
  const { attester, kernel } = await sevGuestAttester(snpGood);
  const r = await attestAndGet(kbs, attester, 'snp');
  assert.equal(r.cpu['ear.status'], 'affirming');
  const v = r.cpu['ear.trustworthiness-vector'];
  assert.deepEqual([v['executables'], v['hardware'], v['configuration']], [3, 2, 2]);
  assert.equal(r.cpu['ear.veraison.annotated-evidence']['snp']['vek_type'], 'VCEK');
  assert.equal(r.got, SECRET.snp);
  // SNP_GET_EXT_REPORT with a one-page certificate buffer, and the kernel's INVALID_LEN retry when the table is larger.
  const table = snpGood.certTable().length;
  const pages = Math.ceil(table / 4096) * 4096;
  assert.deepEqual(kernel.calls, (pages > 4096 ? [4096, pages] : [4096]).map((certsLen) => ({ call: 'ext', certsLen })));
});

test('fake SNP via /dev/sev-guest: another launch measurement -> not affirming, resource refused', async () => {
  const r = await attestAndGet(kbs, (await sevGuestAttester(snpOther)).attester, 'snp');
  assert.equal(r.cpu['ear.trustworthiness-vector']['executables'], 33);
  assert.notEqual(r.cpu['ear.status'], 'affirming');
  refused(r, SECRET.snp);
});

/** The real SE attester whose Ultravisor is the fake one on `machine`, booted from the image with `tags`. */
function seAttester(machine: SeMachine, tags = image.tags, tamper = false): { attester: SeAttester; uv: ReturnType<typeof fakeUltravisor> } {
  const uv = fakeUltravisor({ hostKeys: [machine.hostKey], imageHdrTags: tags });
  const ioctl: UvIoctl = !tamper ? uv : {
    attest: async (device, arcb, meas, add, user, uid) => {
      const o = await uv.attest(device, arcb, meas, add, user, uid);
      meas[0]! ^= 1; // the measurement altered on its way out of the guest
      return o;
    },
  };
  return { attester: new SeAttester({ uv: ioctl }, { root: dir }), uv };
}

const phkh = (hostKey: KeyObject): string => createHash('sha256').update(hostKeyCoords(hostKey)).digest('hex');

// Before any SE reference value is registered, default_cpu affirms nothing for SE.
test('fake SE: the KBS challenge answered by the fake Ultravisor verifies, but without registered se.* reference values default_cpu is contraindicated, refused', async () => {
  const { attester, uv } = seAttester(seA);
  const r = await attestAndGet(kbs, attester, 'se');
  assert.ok(uv.calls >= 1, 'the attester asked the (fake) Ultravisor');
  const se = r.cpu['ear.veraison.annotated-evidence']['se'];
  assert.equal(se['attestation_phkh'], phkh(seA.hostKey));
  assert.equal(se['cuid'], h(uv.configUid));
  assert.equal(se['tag'], h(image.tags.subarray(192)));
  assert.equal(r.cpu['ear.status'], 'contraindicated');
  refused(r, SECRET.se);
});

test('fake SE: a measurement altered after the Ultravisor made it is refused by the KBS (VERIFIER_SE_MEASUREMENT_MISMATCH); so is a guest booted from another image', async () => {
  for (const attester of [seAttester(seA, image.tags, true).attester, seAttester(seA, Buffer.alloc(208, 7)).attester]) {
    const c = new KbsClient({ url: kbs.url, handshakeAttempts: 1 }, { attester });
    try {
      await assert.rejects(c.attest(), (e) => hasCode(e, 'KBC_ATTEST_FAILED') && /HTTP 401/.test((e as Error).message));
    } finally {
      await c.close();
    }
  }
  assert.equal(kbs.logs().split('\n').filter((l) => l.includes('"code":"VERIFIER_SE_MEASUREMENT_MISMATCH"')).length, 2, kbs.logs());
});

test('fake SE: a response replayed into another KBS session verifies as the UV\'s but is refused (user data: VERIFIER_SE_REPORT_DATA_MISMATCH)', async () => {
  const guest = replaying(seAttester(seA).attester);
  assert.ok((await attestAndGet(kbs, guest, 'none')).cpu['ear.veraison.annotated-evidence']['se']);
  await attestRefused(kbs, guest, 'VERIFIER_SE_REPORT_DATA_MISMATCH');
});

test('fake SE: a guest on a machine whose host-key document the KBS does not hold cannot answer (the Ultravisor finds no key slot); nothing reaches the KBS', async () => {
  const { attester, uv } = seAttester(seC);
  const c = new KbsClient({ url: kbs.url, handshakeAttempts: 1 }, { attester });
  try {
    await assert.rejects(c.attest(), (e) => /Ultravisor refused the attestation request/.test(String((e as Error).message) + String((e as { cause?: Error }).cause?.message)));
    assert.equal(uv.calls, 1);
  } finally {
    await c.close();
  }
});

// Last in the file: it registers the SE reference values on the shared KBS.
test('fake SE: under the DEFAULT policy with trustee\'s se.* reference values for the image and machine A -> affirming, resource released; machine B and another image tag are refused', async () => {
  await referenceValues(dir, kbs, {
    'se.tag': [h(image.tags.subarray(192))],
    'se.image_phkh': [phkh(seA.hostKey)],
    'se.attestation_phkh': [phkh(seA.hostKey)],
    'se.version': ['256'],
  }, 'se');
  const a = await attestAndGet(kbs, seAttester(seA).attester, 'se');
  const v = a.cpu['ear.trustworthiness-vector'];
  assert.deepEqual([v['executables'], v['hardware'], v['configuration']], [3, 2, 2], JSON.stringify(a.cpu['ear.veraison.annotated-evidence']));
  assert.equal(a.cpu['ear.status'], 'affirming');
  assert.equal(a.got, SECRET.se);
  // The same image on machine B (its attestation host-key hash is not registered).
  const b = await attestAndGet(kbs, seAttester(seB).attester, 'se');
  assert.equal(b.cpu['ear.veraison.annotated-evidence']['se']['attestation_phkh'], phkh(seB.hostKey));
  assert.equal(b.cpu['ear.trustworthiness-vector']['hardware'], 97);
  refused(b, SECRET.se);
  // Only another image tag registered: executables not affirmed.
  await referenceValues(dir, kbs, { 'se.tag': ['00'.repeat(16)] }, 'se-other-tag');
  const c = await attestAndGet(kbs, seAttester(seA).attester, 'se');
  assert.equal(c.cpu['ear.trustworthiness-vector']['executables'], 33);
  refused(c, SECRET.se);
});
