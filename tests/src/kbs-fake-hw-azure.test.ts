/**
 * az-snp-vtpm and az-tdx-vtpm through the real KBS (not in dev mode) on FAKE HARDWARE, in the
 * way of kbs-fake-hw.test.ts. There is no Azure confidential VM here, so:
 *  - the vTPM is a real swtpm provisioned like Azure's (RSA AK persisted at 0x81000003);
 *  - a FAKE paravisor (@kata-cc/testing `fakeAzSnpHclReport` / `fakeAzTdxParavisor`) writes the
 *    HCL report into NV index 0x01400001: for SNP a report signed by a fake VCEK (test AMD CA)
 *    whose report_data is SHA-256 of the HCL runtime data holding the swtpm AK as `HCLAkPub`;
 *    for TDX a TDREPORT MACed by the fake CPU with the same binding;
 *  - a FAKE IMDS on loopback (the attesters' `imdsUrl` setting) serves the VCEK (`/metadata/THIM/amd/certification`) and TD quotes
 *    (`/acc/tdquote`, checked against the TDREPORT MAC, signed by the fake QE / test Intel CA).
 * The guest side is our real KbsClient with the real attesters from `createAttester` (as the AA
 * creates them), the vTPM quote made by the swtpm over this session's nonce. The KBS verifies
 * with the test roots in --verifier-config; default_cpu appraises over trustee's az-* reference
 * value ids registered through kbs-cli.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createAttester, type Attester } from '@kata-cc/attester';
import { KbsClient } from '@kata-cc/kbs-client';
import {
  fakeAzSnpHclReport, fakeAzTdxParavisor, fakeSnpCa, fakeSnpPlatform, fakeTdxCa, fakeTdxCollateral, fakeTdxPlatform, requireTool, tempDir,
  type FakeAzTdx,
} from '@kata-cc/testing';
import { referenceValues, startPlainKbs, storeSecrets, tokenClaims, type PlainKbs } from './kbs-fake-hw-harness.js';
import { attestAndGet, attestRefused, azureVtpm, fakeImds, refused, replaying, type AzureVtpm, type FakeImds } from './kbs-fake-hw-more-harness.js';

let dir: string;
let cleanup: () => Promise<void>;
let kbs: PlainKbs;
let imds: FakeImds;
let azSnp: AzureVtpm;
let azTdx: AzureVtpm;

const h = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');
const SECRET = { azsnp: 'released to a fake az-snp-vtpm guest', aztdx: 'released to a fake az-tdx-vtpm guest' };
const BOOT_PCR11 = createHash('sha256').update('fake UKI').digest();
/** A SHA-256 PCR after one extend from zero. */
const pcrAfter = (digest: Buffer): string => createHash('sha256').update(Buffer.alloc(32)).update(digest).digest('hex');

const snpCa = fakeSnpCa('Milan');
const azChip = fakeSnpPlatform({ ca: snpCa, measurement: createHash('sha384').update('fake Azure SNP paravisor').digest() });
const azRevoked = fakeSnpPlatform({ ca: snpCa, measurement: azChip.measurement });
/** The VCEK the fake IMDS serves (tests swap it). */
let imdsVcek = azChip.vcek.pem;
const tdxCa = fakeTdxCa();
const azTd = fakeTdxPlatform({ ca: tdxCa, mrTd: createHash('sha384').update('fake Azure TDX paravisor').digest() });
const azTdOther = fakeTdxPlatform({ ca: tdxCa, mrTd: Buffer.alloc(48, 0xdd) });
let azTdxParavisor: FakeAzTdx;
/** What the fake IMDS's /acc/tdquote does with a TDREPORT (tests swap it). */
let quoteTd = (r: Buffer): Uint8Array => azTdxParavisor.tdQuote(r);

before(async () => {
  requireTool('swtpm');
  requireTool('tpm2_nvdefine');
  ({ dir, cleanup } = await tempDir('kbs-fake-hw-azure-'));
  [azSnp, azTdx] = await Promise.all([azureVtpm(dir, 'az-snp'), azureVtpm(dir, 'az-tdx')]);
  await azSnp.writeHcl(fakeAzSnpHclReport(azChip, azSnp.ak));
  azTdxParavisor = fakeAzTdxParavisor(azTd, azTdx.ak);
  await azTdx.writeHcl(azTdxParavisor.hcl);
  await Promise.all([azSnp.extend(11, BOOT_PCR11), azTdx.extend(11, BOOT_PCR11)]);
  imds = await fakeImds(() => imdsVcek, (r) => quoteTd(r));

  const arkCrl = path.join(dir, 'milan-ark.crl');
  await writeFile(arkCrl, snpCa.arkCrl({ revokedSerials: [azRevoked.vcek.serial] }));
  const collateral = path.join(dir, 'tdx-collateral.json');
  await writeFile(collateral, JSON.stringify(fakeTdxCollateral(azTd).json));
  kbs = await startPlainKbs(dir, {
    // requireArkCrl: an az-snp-vtpm guest is only accepted when the ARK CRL was checked.
    'az-snp-vtpm': { trustAnchors: { Milan: snpCa.trustAnchorPem }, arkCrls: [arkCrl], requireArkCrl: true },
    'az-tdx-vtpm': { trustAnchors: [tdxCa.trustAnchorPem], collateral },
  }, 'azure');
  // default_cpu's reference-value ids for az-* (trustee's); the chip runs guest policy 0x30000 on an SMT + TSME platform.
  await referenceValues(dir, kbs, {
    measurement: [b64(azChip.measurement)],
    snp_pcr11: [pcrAfter(BOOT_PCR11)],
    tcb_bootloader: [String(azChip.tcb.bootloader)],
    tcb_microcode: [String(azChip.tcb.microcode)],
    tcb_snp: [String(azChip.tcb.snp)],
    tcb_tee: [String(azChip.tcb.tee)],
    smt_enabled: ['true'], tsme_enabled: ['true'], abi_major: ['0'], abi_minor: ['0'], single_socket: ['false'], smt_allowed: ['true'],
    tdx_pcr11: [pcrAfter(BOOT_PCR11)],
    mr_td: [h(azTd.mrTd)],
    xfam: [h(azTd.xfam)],
  }, 'azure');
  await storeSecrets(dir, kbs, SECRET);
});

after(async () => {
  await kbs?.stop();
  await imds?.close();
  await azSnp?.tpm.stop();
  await azTdx?.tpm.stop();
  await cleanup?.();
});

// The attesters reach the fake IMDS through their `imdsUrl` setting (the AA's AA_AZURE_IMDS_URL).
const azSnpAttester = (): Attester => createAttester('az-snp-vtpm', { env: { AA_TPM_DEVICE: azSnp.tpm.spec } }, { imdsUrl: imds.url });
const azTdxAttester = (): Attester => createAttester('az-tdx-vtpm', { env: { AA_TPM_DEVICE: azTdx.tpm.spec } }, { imdsUrl: imds.url });

test('fake az-snp-vtpm: HCL report (fake VCEK-signed SNP report binding the swtpm AK) + vTPM quote -> affirming under default_cpu, resource released', async () => {
  const r = await attestAndGet(kbs, azSnpAttester(), 'azsnp');
  const v = r.cpu['ear.trustworthiness-vector'];
  assert.deepEqual([v['executables'], v['hardware'], v['configuration']], [3, 2, 2], JSON.stringify(r.cpu['ear.veraison.annotated-evidence']));
  assert.equal(r.cpu['ear.status'], 'affirming');
  const az = r.cpu['ear.veraison.annotated-evidence']['az-snp-vtpm'];
  assert.equal(az['measurement'], b64(azChip.measurement));
  assert.equal(az['tpm']['pcr11'], pcrAfter(BOOT_PCR11));
  assert.equal(r.got, SECRET.azsnp);
});

test('fake az-tdx-vtpm: HCL report (MACed TDREPORT binding the swtpm AK), TD quote from the fake IMDS + vTPM quote -> affirming, resource released', async () => {
  const before = imds.tdReports.length;
  const r = await attestAndGet(kbs, azTdxAttester(), 'aztdx');
  const v = r.cpu['ear.trustworthiness-vector'];
  assert.deepEqual([v['executables'], v['hardware'], v['configuration']], [3, 2, 2], JSON.stringify(r.cpu['ear.veraison.annotated-evidence']));
  assert.equal(r.cpu['ear.status'], 'affirming');
  const az = r.cpu['ear.veraison.annotated-evidence']['az-tdx-vtpm'];
  assert.equal(az['tcb_status'], 'UpToDate');
  assert.equal(az['quote']['body']['mr_td'], h(azTd.mrTd));
  assert.equal(az['tpm']['pcr11'], pcrAfter(BOOT_PCR11));
  assert.equal(imds.tdReports.length, before + 1, 'the attester asked IMDS for the TD quote of its TDREPORT');
  assert.equal(r.got, SECRET.aztdx);
});

test('fake az-snp-vtpm and az-tdx-vtpm: evidence replayed into another KBS session is refused (the vTPM quote nonce: VERIFIER_AZ_*_REPORT_DATA_MISMATCH)', async () => {
  for (const [make, code] of [[azSnpAttester, 'VERIFIER_AZ_SNP_REPORT_DATA_MISMATCH'], [azTdxAttester, 'VERIFIER_AZ_TDX_REPORT_DATA_MISMATCH']] as const) {
    const guest = replaying(make());
    const first = await attestAndGet(kbs, guest, 'none');
    assert.equal(first.cpu['ear.status'], 'affirming');
    await attestRefused(kbs, guest, code);
  }
});

test('fake az-snp-vtpm: a paravisor that puts another AK in the HCL runtime data is refused (VERIFIER_AZ_SNP_HCL_BINDING)', async () => {
  // Same size JSON (another RSA-2048 key), the SNP report still binds the original runtime data.
  const liar = fakeAzSnpHclReport(azChip, azSnp.ak);
  const other = fakeAzSnpHclReport(azChip, generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey);
  const swapped = Buffer.concat([liar.subarray(0, 0x4c0 + 20), other.subarray(0x4c0 + 20)]);
  await azSnp.writeHcl(swapped);
  try {
    await attestRefused(kbs, azSnpAttester(), 'VERIFIER_AZ_SNP_HCL_BINDING');
  } finally {
    await azSnp.writeHcl(liar);
  }
});

test('fake az-tdx-vtpm: a TD quote for another TD report than the HCL report\'s is refused (VERIFIER_AZ_TDX_HCL_BINDING)', async () => {
  quoteTd = () => azTd.quote(randomBytes(64));
  try {
    await attestRefused(kbs, azTdxAttester(), 'VERIFIER_AZ_TDX_HCL_BINDING');
  } finally {
    quoteTd = (r) => azTdxParavisor.tdQuote(r);
  }
});

test('fake az-tdx-vtpm: a TD with an unregistered MRTD (its own paravisor, HCL report and quotes) -> hardware 97, resource refused', async () => {
  const other = fakeAzTdxParavisor(azTdOther, azTdx.ak);
  await azTdx.writeHcl(other.hcl);
  quoteTd = (r) => other.tdQuote(r);
  try {
    const r = await attestAndGet(kbs, azTdxAttester(), 'aztdx');
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

test('fake az-snp-vtpm: a VCEK listed in the configured test ARK CRL is refused by the KBS (VERIFIER_SNP_CERT_REVOKED)', async () => {
  const good = fakeAzSnpHclReport(azChip, azSnp.ak);
  await azSnp.writeHcl(fakeAzSnpHclReport(azRevoked, azSnp.ak));
  imdsVcek = azRevoked.vcek.pem;
  try {
    await attestRefused(kbs, azSnpAttester(), 'VERIFIER_SNP_CERT_REVOKED');
  } finally {
    imdsVcek = azChip.vcek.pem;
    await azSnp.writeHcl(good);
  }
});

const AZ_INITDATA = 'version = "0.1.0"\nalgorithm = "sha256"\n[data]\n"note" = "fake azure launch"\n';
const azInitDigest = createHash('sha256').update(AZ_INITDATA).digest();

// vTPM init-data: the attester extends PCR 8 with the digest (bindInitData, as the AA does at
// start); the KBS replays it from zero.
test('fake az-snp-vtpm: init-data bound by the attester into vTPM PCR 8 is checked by the KBS (affirming, init_data claim); other init-data is refused (VERIFIER_AZ_SNP_INIT_DATA_MISMATCH)', async () => {
  const attester = azSnpAttester();
  assert.equal(await attester.bindInitData?.(azInitDigest), 'extended');
  const c = new KbsClient({ url: kbs.url, initData: AZ_INITDATA, handshakeAttempts: 1 }, { attester });
  try {
    const cpu = tokenClaims(await c.attest())['submods']['cpu0'];
    assert.equal(cpu['ear.status'], 'affirming');
    assert.equal(cpu['ear.veraison.annotated-evidence']['init_data_claims']['note'], 'fake azure launch');
  } finally {
    await c.close();
  }
  await attestRefused(kbs, azSnpAttester(), 'VERIFIER_AZ_SNP_INIT_DATA_MISMATCH', { initData: AZ_INITDATA.replace('fake azure launch', 'other') });
});

// As guest-components' az_tdx_vtpm bind_init_data: vTPM PCR 8 extended with the SHA-256 digest.
test('fake az-tdx-vtpm: the attester binds init-data into vTPM PCR 8 (extended) and the KBS accepts it', async () => {
  const attester = azTdxAttester();
  assert.equal(await attester.bindInitData?.(azInitDigest), 'extended');
  const c = new KbsClient({ url: kbs.url, initData: AZ_INITDATA, handshakeAttempts: 1 }, { attester });
  try {
    const cpu = tokenClaims(await c.attest())['submods']['cpu0'];
    assert.equal(cpu['ear.status'], 'affirming');
    assert.equal(cpu['ear.veraison.annotated-evidence']['az-tdx-vtpm']['tpm']['pcr08'], pcrAfter(azInitDigest));
  } finally {
    await c.close();
  }
});

// Last for the Azure guests: the boot chain they measured changes (PCR 11 extended again).
test('fake az-snp-vtpm and az-tdx-vtpm: PCR 11 other than the registered tdx_pcr11 / snp_pcr11 -> executables 33, resource refused', async () => {
  await Promise.all([azSnp.extend(11, createHash('sha256').update('an unregistered UKI').digest()), azTdx.extend(11, createHash('sha256').update('an unregistered UKI').digest())]);
  const s = await attestAndGet(kbs, azSnpAttester(), 'azsnp');
  assert.deepEqual([s.cpu['ear.trustworthiness-vector']['executables'], s.cpu['ear.trustworthiness-vector']['hardware']], [33, 2]);
  refused(s, SECRET.azsnp);
  const t = await attestAndGet(kbs, azTdxAttester(), 'aztdx');
  assert.deepEqual([t.cpu['ear.trustworthiness-vector']['executables'], t.cpu['ear.trustworthiness-vector']['hardware']], [33, 2]);
  refused(t, SECRET.aztdx);
});

