/**
 * The `trustAnchors` option, with FAKE TEE hardware signed by a TEST CA (@kata-cc/testing
 * fake-tee; there is no TDX/SNP hardware here): the bundled Intel/AMD roots refuse the fake
 * evidence; pointed at the test roots, every DCAP / VCEK check runs and passes, and each
 * forged or revoked piece is refused with its own code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasCode } from '@kata-cc/errors';
import { fakeSnpCa, fakeSnpPlatform, fakeTdxCa, fakeTdxCollateral, fakeTdxPlatform } from '@kata-cc/testing';
import { parseCollateralJson } from './tdx/collateral.js';
import { SnpVerifier } from './snp/snp-verifier.js';
import { TdxVerifier } from './tdx/tdx-verifier.js';

const rd = Buffer.alloc(64, 7);
const snpCa = fakeSnpCa('Milan', { rsaBits: 2048 });
const tdxCa = fakeTdxCa();

test('fake SNP (test ARK/ASK/VCEK): refused under the bundled AMD roots, verified with trustAnchors', async () => {
  const chip = fakeSnpPlatform({ ca: snpCa });
  await assert.rejects(new SnpVerifier().verify(chip.evidence(rd), { reportData: rd }), (e) => hasCode(e, 'VERIFIER_SNP_VEK_UNTRUSTED'));
  const v = new SnpVerifier({ trustAnchors: { Milan: snpCa.trustAnchorPem } });
  const out = await v.verify(chip.evidence(rd), { reportData: rd });
  assert.equal(out.claims['measurement'], Buffer.from(chip.measurement).toString('base64'));
  assert.equal(out.claims['reported_tcb_snp'], String(chip.tcb.snp));
  assert.equal(out.claims['generation'], 'Milan');
  // A chip whose VCEK is issued by another (untrusted) test CA.
  const stranger = fakeSnpPlatform({ ca: fakeSnpCa('Milan', { rsaBits: 2048 }) });
  await assert.rejects(v.verify(stranger.evidence(rd), { reportData: rd }), (e) => hasCode(e, 'VERIFIER_SNP_VEK_SIGNATURE') || hasCode(e, 'VERIFIER_SNP_VEK_UNTRUSTED'));
  // One flipped byte in the signed region.
  const rep = Buffer.from(chip.report(rd));
  rep[0x90]! ^= 1;
  await assert.rejects(v.verify({ attestation_report: rep.toString('base64'), cert_chain: chip.evidence(rd).cert_chain }, { reportData: rd }), (e) => hasCode(e, 'VERIFIER_SNP_REPORT_SIGNATURE'));
  // No anchor for Genoa: a Genoa chip of the same configuration is refused.
  await assert.rejects(new SnpVerifier({ trustAnchors: { Genoa: snpCa.trustAnchorPem } }).verify(chip.evidence(rd), { reportData: rd }), (e) => hasCode(e, 'VERIFIER_SNP_VEK_UNTRUSTED'));
});

test('fake TDX (test root/PCK/QE/collateral): refused under the Intel root, UpToDate with trustAnchors; OutOfDate, revoked, tampered', async () => {
  const p = fakeTdxPlatform({ ca: tdxCa });
  const revokedPlatform = fakeTdxPlatform({ ca: tdxCa });
  const collateral = parseCollateralJson(JSON.stringify(fakeTdxCollateral(p, { revokedPckSerials: [revokedPlatform.pck.serial] }).json));
  await assert.rejects(new TdxVerifier({ collateral }).verify(p.evidence(rd), { reportData: rd }), (e) => hasCode(e, 'VERIFIER_TDX_PCK_CHAIN_UNTRUSTED'));
  const v = new TdxVerifier({ collateral, trustAnchors: [tdxCa.trustAnchorPem] });
  const out = await v.verify(p.evidence(rd), { reportData: rd });
  assert.equal(out.claims['tcb_status'], 'UpToDate');
  assert.deepEqual(out.claims['advisory_ids'], []);
  assert.equal((out.claims['quote'] as { body: { mr_td: string } }).body.mr_td, Buffer.from(p.mrTd).toString('hex'));
  await assert.rejects(v.verify(revokedPlatform.evidence(rd), { reportData: rd }), (e) => hasCode(e, 'VERIFIER_TDX_PCK_REVOKED'));
  const q = Buffer.from(p.quote(rd));
  q[48 + 136]! ^= 1; // mr_td
  await assert.rejects(v.verify({ quote: q.toString('base64'), cc_eventlog: null }, { reportData: rd }), (e) => hasCode(e, 'VERIFIER_TDX_QUOTE_SIGNATURE'));
  // The same platform under collateral where a newer TCB exists: OutOfDate with the advisories.
  const old = parseCollateralJson(JSON.stringify(fakeTdxCollateral(p, { tcb: 'outdated' }).json));
  const o = await new TdxVerifier({ collateral: old, trustAnchors: [tdxCa.trustAnchorPem] }).verify(p.evidence(rd), { reportData: rd });
  assert.equal(o.claims['tcb_status'], 'OutOfDate');
  assert.deepEqual(o.claims['advisory_ids'], ['INTEL-SA-00837', 'INTEL-SA-00960']);
  // An older platform (TEE TCB SVN below the newest level) under current collateral: OutOfDate.
  const older = fakeTdxPlatform({ ca: tdxCa, teeTcbSvn: [4, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] });
  assert.equal((await v.verify(older.evidence(rd), { reportData: rd })).claims['tcb_status'], 'OutOfDate');
  // Collateral from another test CA with the same names (its root CRL is checked first) is refused.
  const foreign = parseCollateralJson(JSON.stringify(fakeTdxCollateral(fakeTdxPlatform(), {}).json));
  await assert.rejects(new TdxVerifier({ collateral: foreign, trustAnchors: [tdxCa.trustAnchorPem] }).verify(p.evidence(rd), { reportData: rd }), (e) => hasCode(e, 'VERIFIER_TDX_CRL_SIGNATURE'));
});

test('trustAnchors that are neither PEM nor a file are refused with VERIFIER_TRUST_ANCHOR_INVALID', async () => {
  const p = fakeTdxPlatform({ ca: tdxCa });
  await assert.rejects(new TdxVerifier({ allowMissingCollateral: true, trustAnchors: ['/nonexistent/root.pem'] }).verify(p.evidence(rd), { reportData: rd }), (e) => hasCode(e, 'VERIFIER_TRUST_ANCHOR_INVALID'));
  const chip = fakeSnpPlatform({ ca: snpCa });
  await assert.rejects(new SnpVerifier({ trustAnchors: { Milan: snpCa.ark.pem } }).verify(chip.evidence(rd), { reportData: rd }), (e) => hasCode(e, 'VERIFIER_TRUST_ANCHOR_INVALID'));
});

test('fake SNP reports v3 and v5 of Genoa and Turin (FMC SPL, 8-byte hwID) verify with their generation anchors', async () => {
  for (const gen of ['Genoa', 'Turin'] as const) {
    const ca = fakeSnpCa(gen, { rsaBits: 2048 });
    for (const version of [3, 5] as const) {
      const chip = fakeSnpPlatform({ ca, version });
      const out = await new SnpVerifier({ trustAnchors: { [gen]: ca.trustAnchorPem } }).verify(chip.evidence(rd), { reportData: rd });
      assert.equal(out.claims['generation'], gen);
      assert.equal(out.claims['report_version'], String(version));
      if (gen === 'Turin') assert.equal(out.claims['reported_tcb_fmc'], String(chip.tcb.fmc));
    }
  }
});
