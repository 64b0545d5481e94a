/**
 * TDX and SEV-SNP through the real KBS with FAKE HARDWARE signed by a TEST CA. There is no TEE
 * hardware here, and real vectors can never bind a fresh KBS session (their report_data was
 * made for someone else's nonce) nor come with in-date collateral for their platform; so
 * @kata-cc/testing `fakeTdxPlatform` / `fakeSnpPlatform` play Intel's and AMD's roles with keys
 * generated here, and the `kbs` binary is pointed at those test roots with the verifiers'
 * `trustAnchors` option (in its --verifier-config file), NOT in dev mode. The guest side is
 * our real KBS client driving the real TdxAttester / SnpAttester, whose configfs-tsm requests
 * are answered by a fake configfs-tsm that has the fake platform sign each inblob on demand.
 * Reference values go in through kbs-cli (RVPS), the default attestation and resource policies
 * decide. Everything the verifier checks runs: quote / report signatures, QE binding, PCK and
 * VCEK chains, CRLs, TCB info and QE identity, report_data binding to the session.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { hasCode } from '@kata-cc/errors';
import { KbsClient } from '@kata-cc/kbs-client';
import { fakeSnpCa, fakeSnpPlatform, fakeTdxCa, fakeTdxCollateral, fakeTdxPlatform, tempDir } from '@kata-cc/testing';
import { admin, fakeSnpAttester, fakeTdxAttester, logged, referenceValues, snpReferenceValues, startPlainKbs, storeSecrets, tokenClaims, type PlainKbs } from './kbs-fake-hw-harness.js';

let dir: string;
let cleanup: () => Promise<void>;
let kbs: PlainKbs;

const h = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const SNP_SECRET = 'released to a fake SNP guest';
const TDX_SECRET = 'released to a fake TDX guest';

// The fake hardware: one test CA per vendor, several platforms under each.
const snpCa = fakeSnpCa('Milan');
const snpGood = fakeSnpPlatform({ ca: snpCa });
const snpOther = fakeSnpPlatform({ ca: snpCa, measurement: Buffer.alloc(48, 0xee) });
const snpRevoked = fakeSnpPlatform({ ca: snpCa });
const tdxCa = fakeTdxCa();
const tdxGood = fakeTdxPlatform({ ca: tdxCa });
const tdxOtherTd = fakeTdxPlatform({ ca: tdxCa, mrTd: Buffer.alloc(48, 0xdd) });
const tdxOlder = fakeTdxPlatform({ ca: tdxCa, teeTcbSvn: [4, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] });
const tdxRevoked = fakeTdxPlatform({ ca: tdxCa });

before(async () => {
  ({ dir, cleanup } = await tempDir('kbs-fake-hw-'));
  const collateral = path.join(dir, 'tdx-collateral.json');
  await writeFile(collateral, JSON.stringify(fakeTdxCollateral(tdxGood, { revokedPckSerials: [tdxRevoked.pck.serial] }).json));
  // The ARK CRL of the test CA revokes one VCEK; the KBS requires a CRL for every SNP report.
  const arkCrl = path.join(dir, 'milan-ark.crl');
  await writeFile(arkCrl, snpCa.arkCrl({ revokedSerials: [snpRevoked.vcek.serial] }));
  kbs = await startPlainKbs(dir, {
    tdx: { trustAnchors: [tdxCa.trustAnchorPem], collateral },
    snp: { trustAnchors: { Milan: snpCa.trustAnchorPem }, arkCrls: [arkCrl], requireArkCrl: true },
  }, 'main');
  // The operator's reference values for the "good" platforms only (default_cpu policy names).
  await referenceValues(dir, kbs, {
    ...snpReferenceValues(snpGood),
    mr_td: [h(tdxGood.mrTd)],
    rtmr_1: [h(tdxGood.rtmr[1])],
    rtmr_2: [h(tdxGood.rtmr[2])],
    xfam: [h(tdxGood.xfam)],
  }, 'main');
  await storeSecrets(dir, kbs, { snp: SNP_SECRET, tdx: TDX_SECRET });
});

after(async () => {
  await kbs?.stop();
  await cleanup?.();
});

// KNOWN DEFECT (kbs/attestation-service default_cpu.rego, not this test's code): the SNP
// configuration rule compares policy_debug_allowed / policy_migrate_ma with the booleans false,
// but the verifier emits them as trustee does (format!("{}", bool): the strings "false"/"true"),
// so no SNP guest reaches configuration 2 and none is affirmed under the default policy. The
// test states the intended behaviour and stays a TODO until the policy is fixed; the last test
// of this file proves the same path with an operator policy that reads the strings.
test('fake SNP: report signed by the test VCEK for this session, reference values registered -> affirming under the default policy, resource released', async () => {
  const { attester, tsm } = await fakeSnpAttester(dir, snpGood);
  const c = new KbsClient({ url: kbs.url }, { attester });
  try {
    const claims = tokenClaims(await c.attest());
    const cpu = claims['submods']['cpu0'];
    assert.equal(cpu['ear.status'], 'affirming');
    const v = cpu['ear.trustworthiness-vector'];
    assert.deepEqual([v['executables'], v['hardware'], v['configuration']], [3, 2, 2]);
    const snp = cpu['ear.veraison.annotated-evidence']['snp'];
    assert.equal(snp['measurement'], Buffer.from(snpGood.measurement).toString('base64'));
    assert.equal(snp['vek_type'], 'VCEK');
    // The report_data the fake AMD-SP signed is the binding the KBS computed for this session.
    assert.equal(Buffer.from(snp['report_data'], 'base64').toString('hex'), h(tsm.inblobs.at(-1)!).padEnd(128, '0'));
    assert.equal(Buffer.from(await c.getResource('kbs:///default/fake/snp')).toString(), SNP_SECRET);
  } finally {
    await c.close();
  }
});

test('fake SNP: another launch measurement (no reference value) -> warning, the resource policy refuses, no secret in the reply', async () => {
  const { attester } = await fakeSnpAttester(dir, snpOther);
  const c = new KbsClient({ url: kbs.url, handshakeAttempts: 1 }, { attester });
  try {
    const cpu = tokenClaims(await c.attest())['submods']['cpu0'];
    assert.equal(cpu['ear.trustworthiness-vector']['executables'], 33);
    assert.notEqual(cpu['ear.status'], 'affirming');
    const err = await c.getResource('kbs:///default/fake/snp').then(() => undefined, (e: unknown) => e);
    assert.ok(hasCode(err, 'KBC_POLICY_DENIED'), String(err));
    const e = err as { message: string; details?: Record<string, unknown> };
    assert.equal(e.details?.['status'], 401);
    assert.equal(e.details?.['kbsError'], 'PolicyDeny');
    assert.doesNotMatch(e.message + JSON.stringify(e.details), new RegExp(SNP_SECRET));
  } finally {
    await c.close();
  }
});

test('fake SNP: a report altered after signing is refused by the KBS (VERIFIER_SNP_REPORT_SIGNATURE)', async () => {
  const { attester } = await fakeSnpAttester(dir, snpGood, true);
  const c = new KbsClient({ url: kbs.url, handshakeAttempts: 1 }, { attester });
  try {
    await assert.rejects(c.attest(), (e) => hasCode(e, 'KBC_ATTEST_FAILED') && /HTTP 401/.test((e as Error).message));
    assert.ok(logged(kbs, 'VERIFIER_SNP_REPORT_SIGNATURE'), kbs.logs());
  } finally {
    await c.close();
  }
});

test('fake SNP: a VCEK listed in the test ARK CRL is refused by the KBS (VERIFIER_SNP_CERT_REVOKED)', async () => {
  const { attester } = await fakeSnpAttester(dir, snpRevoked);
  const c = new KbsClient({ url: kbs.url, handshakeAttempts: 1 }, { attester });
  try {
    await assert.rejects(c.attest(), (e) => hasCode(e, 'KBC_ATTEST_FAILED') && /revoked/.test((e as Error).message));
    assert.ok(logged(kbs, 'VERIFIER_SNP_CERT_REVOKED'), kbs.logs());
  } finally {
    await c.close();
  }
});

test('fake TDX: quote by the test QE/PCK for this session, in-date test collateral -> UpToDate, affirming, resource released', async () => {
  const { attester, tsm } = fakeTdxAttester(dir, tdxGood);
  const c = new KbsClient({ url: kbs.url }, { attester });
  try {
    const cpu = tokenClaims(await c.attest())['submods']['cpu0'];
    assert.equal(cpu['ear.status'], 'affirming');
    const v = cpu['ear.trustworthiness-vector'];
    assert.deepEqual([v['executables'], v['hardware'], v['configuration']], [3, 2, 2]);
    const tdx = cpu['ear.veraison.annotated-evidence']['tdx'];
    assert.equal(tdx['tcb_status'], 'UpToDate');
    assert.deepEqual(tdx['advisory_ids'], []);
    assert.equal(tdx['fmspc'], tdxGood.fmspc);
    assert.equal(tdx['quote']['body']['mr_td'], h(tdxGood.mrTd));
    assert.equal(tdx['quote']['body']['report_data'], h(tsm.inblobs.at(-1)!).padEnd(128, '0'));
    assert.equal(Buffer.from(await c.getResource('kbs:///default/fake/tdx')).toString(), TDX_SECRET);
  } finally {
    await c.close();
  }
});

test('fake TDX: a TD with an unregistered MRTD -> not affirming, the resource policy refuses, no secret in the reply', async () => {
  const { attester } = fakeTdxAttester(dir, tdxOtherTd);
  const c = new KbsClient({ url: kbs.url, handshakeAttempts: 1 }, { attester });
  try {
    const cpu = tokenClaims(await c.attest())['submods']['cpu0'];
    assert.equal(cpu['ear.veraison.annotated-evidence']['tdx']['tcb_status'], 'UpToDate');
    assert.equal(cpu['ear.trustworthiness-vector']['hardware'], 97, 'MRTD is not a reference value');
    assert.equal(cpu['ear.status'], 'contraindicated');
    const err = await c.getResource('kbs:///default/fake/tdx').then(() => undefined, (e: unknown) => e);
    assert.ok(hasCode(err, 'KBC_POLICY_DENIED'), String(err));
    const e = err as { message: string; details?: Record<string, unknown> };
    assert.equal(e.details?.['status'], 401);
    assert.doesNotMatch(e.message + JSON.stringify(e.details), new RegExp(TDX_SECRET));
  } finally {
    await c.close();
  }
});

test('fake TDX: a platform below the newest TCB level -> the token reports OutOfDate with the advisories, contraindicated, refused', async () => {
  const { attester } = fakeTdxAttester(dir, tdxOlder);
  const c = new KbsClient({ url: kbs.url, handshakeAttempts: 1 }, { attester });
  try {
    const cpu = tokenClaims(await c.attest())['submods']['cpu0'];
    const tdx = cpu['ear.veraison.annotated-evidence']['tdx'];
    assert.equal(tdx['tcb_status'], 'OutOfDate');
    assert.deepEqual(tdx['advisory_ids'], ['INTEL-SA-00837', 'INTEL-SA-00960']);
    assert.equal(cpu['ear.trustworthiness-vector']['hardware'], 97, 'default_cpu affirms hardware only when UpToDate');
    assert.equal(cpu['ear.status'], 'contraindicated');
    await assert.rejects(c.getResource('kbs:///default/fake/tdx'), (e) => hasCode(e, 'KBC_POLICY_DENIED'));
  } finally {
    await c.close();
  }
});

test('fake TDX: a PCK listed in the test PCK CRL is refused by the KBS (VERIFIER_TDX_PCK_REVOKED)', async () => {
  const { attester } = fakeTdxAttester(dir, tdxRevoked);
  const c = new KbsClient({ url: kbs.url, handshakeAttempts: 1 }, { attester });
  try {
    await assert.rejects(c.attest(), (e) => hasCode(e, 'KBC_ATTEST_FAILED') && /HTTP 401/.test((e as Error).message) && /revoked/.test((e as Error).message));
    assert.ok(logged(kbs, 'VERIFIER_TDX_PCK_REVOKED'), kbs.logs());
  } finally {
    await c.close();
  }
});

test('fake TDX: a quote altered after signing is refused by the KBS (VERIFIER_TDX_QUOTE_SIGNATURE)', async () => {
  const { attester } = fakeTdxAttester(dir, tdxGood, true);
  const c = new KbsClient({ url: kbs.url, handshakeAttempts: 1 }, { attester });
  try {
    await assert.rejects(c.attest(), (e) => hasCode(e, 'KBC_ATTEST_FAILED') && /HTTP 401/.test((e as Error).message));
    assert.ok(logged(kbs, 'VERIFIER_TDX_QUOTE_SIGNATURE'), kbs.logs());
  } finally {
    await c.close();
  }
});

test('fake TDX: under collateral whose newest TCB level is above the platform (OutOfDate TCB info) the same TD is OutOfDate and refused', async () => {
  const collateral = path.join(dir, 'tdx-collateral-outdated.json');
  await writeFile(collateral, JSON.stringify(fakeTdxCollateral(tdxGood, { tcb: 'outdated', advisoryIds: ['INTEL-SA-01036'] }).json));
  const k2 = await startPlainKbs(dir, { tdx: { trustAnchors: [tdxCa.trustAnchorPem], collateral } }, 'outdated');
  try {
    await referenceValues(dir, k2, { mr_td: [h(tdxGood.mrTd)], rtmr_1: [h(tdxGood.rtmr[1])], rtmr_2: [h(tdxGood.rtmr[2])], xfam: [h(tdxGood.xfam)] }, 'outdated');
    await admin(k2, 'set-resource', '--path', 'default/fake/tdx', '--file', path.join(dir, 'tdx-secret'));
    const c = new KbsClient({ url: k2.url, handshakeAttempts: 1 }, { attester: fakeTdxAttester(dir, tdxGood).attester });
    try {
      const cpu = tokenClaims(await c.attest())['submods']['cpu0'];
      const tdx = cpu['ear.veraison.annotated-evidence']['tdx'];
      assert.equal(tdx['tcb_status'], 'OutOfDate');
      assert.deepEqual(tdx['advisory_ids'], ['INTEL-SA-01036']);
      assert.deepEqual([cpu['ear.trustworthiness-vector']['executables'], cpu['ear.trustworthiness-vector']['hardware']], [3, 97]);
      assert.equal(cpu['ear.status'], 'contraindicated');
      await assert.rejects(c.getResource('kbs:///default/fake/tdx'), (e) => hasCode(e, 'KBC_POLICY_DENIED'));
    } finally {
      await c.close();
    }
  } finally {
    await k2.stop();
  }
});

const INITDATA_384 = 'version = "0.1.0"\nalgorithm = "sha384"\n[data]\n"note" = "fake tdx launch"\n';
const INITDATA_256 = 'version = "0.1.0"\nalgorithm = "sha256"\n[data]\n"note" = "fake snp launch"\n';
const tdxInit = fakeTdxPlatform({ ca: tdxCa, mrConfigId: createHash('sha384').update(INITDATA_384).digest() });
const snpInit = fakeSnpPlatform({ ca: snpCa, hostData: createHash('sha256').update(INITDATA_256).digest() });

test('fake TDX: init-data launched into MRCONFIGID is bound (attester check + KBS check, affirming); other init-data is refused (VERIFIER_TDX_INIT_DATA_MISMATCH)', async () => {
  const { attester } = fakeTdxAttester(dir, tdxInit);
  assert.equal(await attester.bindInitData?.(createHash('sha384').update(INITDATA_384).digest()), 'verified');
  const c = new KbsClient({ url: kbs.url, initData: INITDATA_384 }, { attester });
  try {
    const cpu = tokenClaims(await c.attest())['submods']['cpu0'];
    assert.equal(cpu['ear.status'], 'affirming');
    assert.equal(cpu['ear.veraison.annotated-evidence']['init_data'], createHash('sha384').update(INITDATA_384).digest('hex'));
    assert.equal(cpu['ear.veraison.annotated-evidence']['init_data_claims']['note'], 'fake tdx launch');
  } finally {
    await c.close();
  }
  const other = new KbsClient({ url: kbs.url, initData: INITDATA_384.replace('fake tdx launch', 'other'), handshakeAttempts: 1 }, { attester });
  try {
    await assert.rejects(other.attest(), (e) => hasCode(e, 'KBC_ATTEST_FAILED'));
    assert.ok(logged(kbs, 'VERIFIER_TDX_INIT_DATA_MISMATCH'), kbs.logs());
  } finally {
    await other.close();
  }
});

test('fake SNP: init-data launched into HOST_DATA is bound (attester check + KBS check); other init-data is refused (VERIFIER_SNP_INIT_DATA_MISMATCH)', async () => {
  const { attester } = await fakeSnpAttester(dir, snpInit);
  assert.equal(await attester.bindInitData?.(createHash('sha256').update(INITDATA_256).digest()), 'verified');
  const c = new KbsClient({ url: kbs.url, initData: INITDATA_256 }, { attester });
  try {
    const cpu = tokenClaims(await c.attest())['submods']['cpu0'];
    assert.equal(cpu['ear.veraison.annotated-evidence']['init_data'], createHash('sha256').update(INITDATA_256).digest('hex'));
  } finally {
    await c.close();
  }
  const other = new KbsClient({ url: kbs.url, initData: INITDATA_256.replace('fake snp launch', 'other'), handshakeAttempts: 1 }, { attester });
  try {
    await assert.rejects(other.attest(), (e) => hasCode(e, 'KBC_ATTEST_FAILED'));
    assert.ok(logged(kbs, 'VERIFIER_SNP_INIT_DATA_MISMATCH'), kbs.logs());
  } finally {
    await other.close();
  }
});

/** An operator's default_cpu for SNP (trustee's rules, reading the string claims the verifier emits). */
const SNP_OPERATOR_POLICY = `package policy
import rego.v1
default executables := 33
default hardware := 97
default configuration := 36
executables := 3 if { input.snp.measurement in query_reference_value("snp_launch_measurement") }
hardware := 2 if {
	input.snp.reported_tcb_bootloader in query_reference_value("snp_bootloader")
	input.snp.reported_tcb_microcode in query_reference_value("snp_microcode")
	input.snp.reported_tcb_snp in query_reference_value("snp_snp_svn")
	input.snp.reported_tcb_tee in query_reference_value("snp_tee_svn")
}
configuration := 2 if {
	input.snp.policy_debug_allowed == "false"
	input.snp.policy_migrate_ma == "false"
}
trust_claims := {"executables": executables, "hardware": hardware, "configuration": configuration}
`;

// Last in the file: it replaces default_cpu on the shared KBS (the TDX tests above used the default).
test('fake SNP: with an operator default_cpu reading the string claims -> affirming, resource released and decrypted; other measurement refused', async () => {
  await writeFile(path.join(dir, 'snp-policy.rego'), SNP_OPERATOR_POLICY);
  await admin(kbs, 'set-attestation-policy', '--file', path.join(dir, 'snp-policy.rego'), '--id', 'default_cpu');
  const { attester, tsm } = await fakeSnpAttester(dir, snpGood);
  const c = new KbsClient({ url: kbs.url }, { attester });
  try {
    const cpu = tokenClaims(await c.attest())['submods']['cpu0'];
    const v = cpu['ear.trustworthiness-vector'];
    assert.deepEqual([v['executables'], v['hardware'], v['configuration']], [3, 2, 2]);
    assert.equal(cpu['ear.status'], 'affirming');
    const snp = cpu['ear.veraison.annotated-evidence']['snp'];
    assert.equal(Buffer.from(snp['report_data'], 'base64').toString('hex'), h(tsm.inblobs.at(-1)!).padEnd(128, '0'));
    assert.equal(Buffer.from(await c.getResource('kbs:///default/fake/snp')).toString(), SNP_SECRET);
  } finally {
    await c.close();
  }
  const other = new KbsClient({ url: kbs.url, handshakeAttempts: 1 }, { attester: (await fakeSnpAttester(dir, snpOther)).attester });
  try {
    await assert.rejects(other.getResource('kbs:///default/fake/snp'), (e) => hasCode(e, 'KBC_POLICY_DENIED') && !(e as Error).message.includes(SNP_SECRET));
  } finally {
    await other.close();
  }
});
