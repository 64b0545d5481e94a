/**
 * The remaining TEE kinds through the real KBS (not in dev mode) on FAKE HARDWARE, in the way
 * of kbs-fake-hw.test.ts: our real KbsClient drives our real attesters, whose hardware is faked
 * below the attester's own seam, and the `kbs` binary verifies with test roots named in its
 * --verifier-config, appraises with the default (or an operator) policy over reference values
 * registered through kbs-cli, and releases or refuses the resource.
 *  - SEV-SNP through /dev/sev-guest (kernels without configfs-tsm): `fakeSevGuest` from
 *    @kata-cc/attester/testing answers SNP_GET_EXT_REPORT with reports a fake AMD-SP signs.
 *  - IBM SE: the KBS's SE challenge (ARCB encrypted to host-key documents made with openssl)
 *    is answered by the real SE attester over `fakeUltravisor` holding the host key.
 *  - az-snp-vtpm / az-tdx-vtpm: a real swtpm is the vTPM (AK at 0x81000003); the FAKE Azure
 *    paravisor writes its HCL report (SNP report signed by a fake VCEK / MACed TDREPORT, both
 *    binding the vTPM AK) into NV 0x01400001; a FAKE IMDS serves the VCEK and TD quotes.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createAttester, SeAttester, SnpAttester, type Attester, type UvIoctl } from '@kata-cc/attester';
import { fakeSevGuest, fakeUltravisor, hostKeyCoords } from '@kata-cc/attester/testing';
import { hasCode } from '@kata-cc/errors';
import { KbsClient } from '@kata-cc/kbs-client';
import {
  fakeAzSnpHclReport, fakeAzTdxParavisor, fakeSnpCa, fakeSnpPlatform, fakeTdxCa, fakeTdxCollateral, fakeTdxPlatform, requireTool, tempDir,
  type FakeAzTdx, type FakeSnpPlatform,
} from '@kata-cc/testing';
import { admin, logged, referenceValues, startPlainKbs, tokenClaims, type PlainKbs } from './kbs-fake-hw-harness.js';
import { azureVtpm, fakeImds, routeImds, seImageHeader, seMachine, seMeasurementKey, type AzureVtpm, type FakeImds, type SeMachine } from './kbs-fake-hw-more-harness.js';

let dir: string;
let cleanup: () => Promise<void>;
let kbs: PlainKbs;
let imds: FakeImds;
let restoreFetch: () => void = () => {};
let azSnp: AzureVtpm;
let azTdx: AzureVtpm;
let seA: SeMachine;
let seB: SeMachine;
let image: { file: string; tags: Buffer };

const h = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');
const SECRET = { snp: 'released to a fake sev-guest SNP guest', se: 'released to a fake SE guest', azsnp: 'released to a fake az-snp-vtpm guest', aztdx: 'released to a fake az-tdx-vtpm guest' };
const BOOT_PCR11 = createHash('sha256').update('fake UKI').digest();
const pcr11After = (digest: Buffer): string => createHash('sha256').update(Buffer.alloc(32)).update(digest).digest('hex');

const snpCa = fakeSnpCa('Milan');
const snpGood = fakeSnpPlatform({ ca: snpCa });
const snpOther = fakeSnpPlatform({ ca: snpCa, measurement: Buffer.alloc(48, 0xee) });
const azChip = fakeSnpPlatform({ ca: snpCa, measurement: createHash('sha384').update('fake Azure SNP paravisor').digest() });
const azRevoked = fakeSnpPlatform({ ca: snpCa, measurement: azChip.measurement });
let imdsVcek = azChip.vcek.pem;
const tdxCa = fakeTdxCa();
const azTd = fakeTdxPlatform({ ca: tdxCa, mrTd: createHash('sha384').update('fake Azure TDX paravisor').digest() });
const azTdOther = fakeTdxPlatform({ ca: tdxCa, mrTd: Buffer.alloc(48, 0xdd) });
let azTdxParavisor: FakeAzTdx;
/** What the fake IMDS's /acc/tdquote does with a TDREPORT (tests swap it). */
let quoteTd = (r: Buffer): Uint8Array => azTdxParavisor.tdQuote(r);

before(async () => {
  requireTool('openssl');
  requireTool('swtpm');
  requireTool('tpm2_nvdefine');
  ({ dir, cleanup } = await tempDir('kbs-fake-hw-more-'));
  [azSnp, azTdx] = await Promise.all([azureVtpm(dir, 'az-snp'), azureVtpm(dir, 'az-tdx')]);
  await azSnp.writeHcl(fakeAzSnpHclReport(azChip, azSnp.ak));
  azTdxParavisor = fakeAzTdxParavisor(azTd, azTdx.ak);
  await azTdx.writeHcl(azTdxParavisor.hcl);
  await Promise.all([azSnp.extend(11, BOOT_PCR11), azTdx.extend(11, BOOT_PCR11)]);
  imds = await fakeImds(() => imdsVcek, (r) => quoteTd(r));
  restoreFetch = routeImds(imds);

  [seA, seB] = await Promise.all([seMachine(dir, 'z-a'), seMachine(dir, 'z-b')]);
  image = await seImageHeader(dir, 'image');
  const arkCrl = path.join(dir, 'milan-ark.crl');
  await writeFile(arkCrl, snpCa.arkCrl({ revokedSerials: [azRevoked.vcek.serial] }));
  const collateral = path.join(dir, 'tdx-collateral.json');
  await writeFile(collateral, JSON.stringify(fakeTdxCollateral(azTd).json));
  const snp = { trustAnchors: { Milan: snpCa.trustAnchorPem }, arkCrls: [arkCrl], requireArkCrl: true };
  kbs = await startPlainKbs(dir, {
    snp,
    // requireArkCrl left out for az-snp-vtpm: its verifier ignores arkCrls (see the TODO test below).
    'az-snp-vtpm': { trustAnchors: snp.trustAnchors, arkCrls: [arkCrl] },
    'az-tdx-vtpm': { trustAnchors: [tdxCa.trustAnchorPem], collateral },
    // No IBM-signed host-key documents exist here: the sample config's skipHkdVerification.
    se: { measurementKeyPrivate: seMeasurementKey(), hostKeyDocuments: [seA.hkd, seB.hkd], imageHeader: image.file, skipHkdVerification: true },
  }, 'more');
  // default_cpu's reference-value ids (trustee's for az-*); the az-snp chip runs the default guest policy 0x30000.
  const tcb = (p: FakeSnpPlatform, pre: string): Record<string, string[]> => ({
    [`${pre}bootloader`]: [String(p.tcb.bootloader)], [`${pre}microcode`]: [String(p.tcb.microcode)],
    [`${pre === 'snp_' ? 'snp_snp_svn' : 'tcb_snp'}`]: [String(p.tcb.snp)], [`${pre === 'snp_' ? 'snp_tee_svn' : 'tcb_tee'}`]: [String(p.tcb.tee)],
  });
  await referenceValues(dir, kbs, {
    snp_launch_measurement: [b64(snpGood.measurement)],
    ...tcb(snpGood, 'snp_'),
    measurement: [b64(azChip.measurement)],
    snp_pcr11: [pcr11After(BOOT_PCR11)],
    ...tcb(azChip, 'tcb_'),
    smt_enabled: ['true'], tsme_enabled: ['true'], abi_major: ['0'], abi_minor: ['0'], single_socket: ['false'], smt_allowed: ['true'],
    tdx_pcr11: [pcr11After(BOOT_PCR11)],
    mr_td: [h(azTd.mrTd)],
    xfam: [h(azTd.xfam)],
  }, 'more');
  for (const [name, secret] of Object.entries(SECRET)) {
    await writeFile(path.join(dir, `${name}-secret`), secret);
    await admin(kbs, 'set-resource', '--path', `default/fake/${name}`, '--file', path.join(dir, `${name}-secret`));
  }
});

after(async () => {
  restoreFetch();
  await kbs?.stop();
  await imds?.close();
  await azSnp?.tpm.stop();
  await azTdx?.tpm.stop();
  await cleanup?.();
});

/** Attests, then asks for `resource`; returns the cpu0 submod of the token and the resource or the refusal. */
async function attestAndGet(attester: Attester, resource: string): Promise<{ cpu: Record<string, any>; got?: string; err?: unknown }> {
  const c = new KbsClient({ url: kbs.url, handshakeAttempts: 1 }, { attester });
  try {
    const cpu = tokenClaims(await c.attest())['submods']['cpu0'];
    try {
      return { cpu, got: Buffer.from(await c.getResource(`kbs:///default/fake/${resource}`)).toString() };
    } catch (err) {
      return { cpu, err };
    }
  } finally {
    await c.close();
  }
}

function refused(r: { err?: unknown; got?: string }, secret: string): void {
  assert.equal(r.got, undefined, 'the resource must not be released');
  assert.ok(hasCode(r.err, 'KBC_POLICY_DENIED'), String(r.err));
  const e = r.err as { message: string; details?: Record<string, unknown> };
  assert.equal(e.details?.['status'], 401);
  assert.doesNotMatch(e.message + JSON.stringify(e.details), new RegExp(secret));
}

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
  const r = await attestAndGet(attester, 'snp');
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
  const r = await attestAndGet((await sevGuestAttester(snpOther)).attester, 'snp');
  assert.equal(r.cpu['ear.trustworthiness-vector']['executables'], 33);
  assert.notEqual(r.cpu['ear.status'], 'affirming');
  refused(r, SECRET.snp);
});

const azSnpAttester = (): Attester => createAttester('az-snp-vtpm', { env: { AA_TPM_DEVICE: azSnp.tpm.spec } });
const azTdxAttester = (): Attester => createAttester('az-tdx-vtpm', { env: { AA_TPM_DEVICE: azTdx.tpm.spec } });

test('fake az-snp-vtpm: HCL report (fake VCEK-signed SNP report binding the swtpm AK) + vTPM quote -> affirming under default_cpu, resource released', async () => {
  const r = await attestAndGet(azSnpAttester(), 'azsnp');
  const v = r.cpu['ear.trustworthiness-vector'];
  assert.deepEqual([v['executables'], v['hardware'], v['configuration']], [3, 2, 2], JSON.stringify(r.cpu['ear.veraison.annotated-evidence']));
  assert.equal(r.cpu['ear.status'], 'affirming');
  const az = r.cpu['ear.veraison.annotated-evidence']['az-snp-vtpm'];
  assert.equal(az['measurement'], b64(azChip.measurement));
  assert.equal(az['tpm']['pcr11'], pcr11After(BOOT_PCR11));
  assert.equal(r.got, SECRET.azsnp);
});

test('fake az-tdx-vtpm: HCL report (MACed TDREPORT binding the swtpm AK), TD quote from the fake IMDS + vTPM quote -> affirming, resource released', async () => {
  const before = imds.tdReports.length;
  const r = await attestAndGet(azTdxAttester(), 'aztdx');
  const v = r.cpu['ear.trustworthiness-vector'];
  assert.deepEqual([v['executables'], v['hardware'], v['configuration']], [3, 2, 2], JSON.stringify(r.cpu['ear.veraison.annotated-evidence']));
  assert.equal(r.cpu['ear.status'], 'affirming');
  const az = r.cpu['ear.veraison.annotated-evidence']['az-tdx-vtpm'];
  assert.equal(az['tcb_status'], 'UpToDate');
  assert.equal(az['quote']['body']['mr_td'], h(azTd.mrTd));
  assert.equal(az['tpm']['pcr11'], pcr11After(BOOT_PCR11));
  assert.equal(imds.tdReports.length, before + 1, 'the attester asked IMDS for the TD quote of its TDREPORT');
  assert.equal(r.got, SECRET.aztdx);
});

test('fake az-snp-vtpm: a paravisor that puts another AK in the HCL runtime data is refused (VERIFIER_AZ_SNP_HCL_BINDING)', async () => {
  // Same size JSON (another RSA-2048 key), the SNP report still binds the original runtime data.
  const liar = fakeAzSnpHclReport(azChip, azSnp.ak);
  const other = fakeAzSnpHclReport(azChip, generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey);
  const swapped = Buffer.concat([liar.subarray(0, 0x4c0 + 20), other.subarray(0x4c0 + 20)]);
  await azSnp.writeHcl(swapped);
  try {
    const c = new KbsClient({ url: kbs.url, handshakeAttempts: 1 }, { attester: azSnpAttester() });
    try {
      await assert.rejects(c.attest(), (e) => hasCode(e, 'KBC_ATTEST_FAILED') && /HTTP 401/.test((e as Error).message));
      assert.ok(logged(kbs, 'VERIFIER_AZ_SNP_HCL_BINDING'), kbs.logs());
    } finally {
      await c.close();
    }
  } finally {
    await azSnp.writeHcl(liar);
  }
});

test('fake az-tdx-vtpm: a TD quote for another TD report than the HCL report\'s is refused (VERIFIER_AZ_TDX_HCL_BINDING)', async () => {
  quoteTd = () => azTd.quote(randomBytes(64));
  try {
    const c = new KbsClient({ url: kbs.url, handshakeAttempts: 1 }, { attester: azTdxAttester() });
    try {
      await assert.rejects(c.attest(), (e) => hasCode(e, 'KBC_ATTEST_FAILED') && /HTTP 401/.test((e as Error).message));
      assert.ok(logged(kbs, 'VERIFIER_AZ_TDX_HCL_BINDING'), kbs.logs());
    } finally {
      await c.close();
    }
  } finally {
    quoteTd = (r) => azTdxParavisor.tdQuote(r);
  }
});

test('fake az-tdx-vtpm: a TD with an unregistered MRTD (its own paravisor, HCL report and quotes) -> hardware 97, resource refused', async () => {
  const other = fakeAzTdxParavisor(azTdOther, azTdx.ak);
  await azTdx.writeHcl(other.hcl);
  quoteTd = (r) => other.tdQuote(r);
  try {
    const r = await attestAndGet(azTdxAttester(), 'aztdx');
    const az = r.cpu['ear.veraison.annotated-evidence']['az-tdx-vtpm'];
    assert.equal(az['quote']['body']['mr_td'], h(azTdOther.mrTd));
    assert.equal(az['tcb_status'], 'UpToDate');
    assert.deepEqual([r.cpu['ear.trustworthiness-vector']['executables'], r.cpu['ear.trustworthiness-vector']['hardware']], [3, 97]);
    refused(r, SECRET.aztdx);
  } finally {
    quoteTd = (r) => azTdxParavisor.tdQuote(r);
    await azTdx.writeHcl(azTdxParavisor.hcl);
  }
});

// KNOWN DEFECT (kbs/verifier az-snp-vtpm-verifier.ts, not this test's code): it calls
// verifySnpReport without `arkCrlList`, so the ARK CRLs of its config (arkCrls / kdsUrl) are
// never loaded: a revoked VCEK is accepted (the check is only listed as skipped), and with
// requireArkCrl every az-snp-vtpm guest is refused with VERIFIER_SNP_CRL_MISSING.
test('fake az-snp-vtpm: a VCEK listed in the configured test ARK CRL is refused by the KBS (VERIFIER_SNP_CERT_REVOKED)', { todo: 'AzSnpVtpmVerifier ignores arkCrls/kdsUrl: it must load the ARK CRLs as SnpVerifier#crls does and pass arkCrlList to verifySnpReport' }, async () => {
  const good = fakeAzSnpHclReport(azChip, azSnp.ak);
  await azSnp.writeHcl(fakeAzSnpHclReport(azRevoked, azSnp.ak));
  imdsVcek = azRevoked.vcek.pem;
  try {
    const c = new KbsClient({ url: kbs.url, handshakeAttempts: 1 }, { attester: azSnpAttester() });
    try {
      await assert.rejects(c.attest(), (e) => hasCode(e, 'KBC_ATTEST_FAILED') && /revoked/.test((e as Error).message));
      assert.ok(logged(kbs, 'VERIFIER_SNP_CERT_REVOKED'), kbs.logs());
    } finally {
      await c.close();
    }
  } finally {
    imdsVcek = azChip.vcek.pem;
    await azSnp.writeHcl(good);
  }
});

// Last for the Azure guests: the boot chain they measured changes (PCR 11 extended again).
test('fake az-snp-vtpm and az-tdx-vtpm: PCR 11 other than the registered tdx_pcr11 / snp_pcr11 -> executables 33, resource refused', async () => {
  await Promise.all([azSnp.extend(11, createHash('sha256').update('an unregistered UKI').digest()), azTdx.extend(11, createHash('sha256').update('an unregistered UKI').digest())]);
  const s = await attestAndGet(azSnpAttester(), 'azsnp');
  assert.deepEqual([s.cpu['ear.trustworthiness-vector']['executables'], s.cpu['ear.trustworthiness-vector']['hardware']], [33, 2]);
  refused(s, SECRET.azsnp);
  const t = await attestAndGet(azTdxAttester(), 'aztdx');
  assert.deepEqual([t.cpu['ear.trustworthiness-vector']['executables'], t.cpu['ear.trustworthiness-vector']['hardware']], [33, 2]);
  refused(t, SECRET.aztdx);
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

// trustee's default policy has no SE rules ("##### SE TODO"); ours neither: SE is verified but never affirming by default.
test('fake SE: the KBS challenge answered by the fake Ultravisor verifies, but default_cpu (like trustee\'s) appraises no SE claims -> contraindicated, refused', async () => {
  const { attester, uv } = seAttester(seA);
  const r = await attestAndGet(attester, 'se');
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

/** An operator's SE appraisal: the image (header tag, image host-key hash), the machine (attestation host-key hash). */
const SE_OPERATOR_POLICY = `package policy
import rego.v1
default executables := 33
default hardware := 97
default configuration := 36
executables := 3 if {
	input.se.tag in query_reference_value("se_tag")
	input.se.image_phkh in query_reference_value("se_image_phkh")
}
hardware := 2 if input.se.attestation_phkh in query_reference_value("se_attestation_phkh")
configuration := 2 if sprintf("%d", [input.se.version]) in query_reference_value("se_version")
trust_claims := {"executables": executables, "hardware": hardware, "configuration": configuration}
`;

// Last in the file: it replaces default_cpu on the shared KBS.
test('fake SE: with an operator policy and reference values for image and machine A -> affirming, resource released; the same image on machine B is refused', async () => {
  await writeFile(path.join(dir, 'se-policy.rego'), SE_OPERATOR_POLICY);
  await admin(kbs, 'set-attestation-policy', '--file', path.join(dir, 'se-policy.rego'), '--id', 'default_cpu');
  await referenceValues(dir, kbs, { se_tag: [h(image.tags.subarray(192))], se_image_phkh: [phkh(seA.hostKey)], se_attestation_phkh: [phkh(seA.hostKey)], se_version: ['1'] }, 'se');
  const a = await attestAndGet(seAttester(seA).attester, 'se');
  const v = a.cpu['ear.trustworthiness-vector'];
  assert.deepEqual([v['executables'], v['hardware'], v['configuration']], [3, 2, 2]);
  assert.equal(a.cpu['ear.status'], 'affirming');
  assert.equal(a.got, SECRET.se);
  const b = await attestAndGet(seAttester(seB).attester, 'se');
  assert.equal(b.cpu['ear.veraison.annotated-evidence']['se']['attestation_phkh'], phkh(seB.hostKey));
  assert.equal(b.cpu['ear.trustworthiness-vector']['hardware'], 97);
  refused(b, SECRET.se);
});
