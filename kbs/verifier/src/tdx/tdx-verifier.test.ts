import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { sharedDir, tempDir } from '@kata-cc/testing';
import { parseTdxQuote } from './quote.js';
import { TdxVerifier, verifyTdxQuote } from './tdx-verifier.js';
import { splitSignedBody, type QuoteCollateral } from './collateral.js';
import { matchTcbLevel, parseTcbInfo } from './tcb.js';
import { parsePckExtensions } from './pck.js';
import { assertNotRevoked, intelRoots, verifyQuoteSignatures } from './dcap.js';
import { parseCertificate, parseCrl, verifyP1363 } from '../common/x509.js';

const V = (...p: string[]): string => sharedDir('vectors', ...p);
const GO = (...p: string[]): string => V('go-tdx-guest', 'testing', 'testdata', ...p);
const CHAINS = V('go-tdx-guest', 'extracted-from-testing_test_cases.go');
const read = (p: string): Uint8Array => new Uint8Array(readFileSync(p));
const SPR_TIME = new Date('2023-07-01T00:00:00Z');
let tmp: { dir: string; cleanup: () => Promise<void> };
before(async () => { tmp = await tempDir('kcc-tdx-'); });
after(async () => { await tmp.cleanup(); });

/** Every TDX quote of the vectors, with what its source (or MANIFEST) asserts. */
const QUOTES: { file: string; version: number; mrTd: string; fmspc: string; at: string; debug: boolean }[] = [
  { file: V('trustee/deps/verifier/test_data/tdx_quote_4.dat'), version: 4, mrTd: '705ee9381b8633a9', fmspc: '50806f000000', at: '2026-06-01', debug: true },
  { file: V('trustee/deps/verifier/test_data/tdx_quote_5.dat'), version: 5, mrTd: 'dfba221b48a22af8', fmspc: '90c06f000000', at: '2026-06-01', debug: false },
  { file: V('trustee/deps/verifier/test_data/tdx_quote_6.dat'), version: 4, mrTd: '21e8dead92d6c69d', fmspc: '00a06d080000', at: '2026-06-01', debug: false },
  { file: V('trustee/deps/verifier/test_data/az-tdx-vtpm/td-quote.bin'), version: 4, mrTd: '024a32b070383331', fmspc: '00806f050000', at: '2026-06-01', debug: false },
  { file: GO('tdx_prod_quote_SPR_E4.dat'), version: 4, mrTd: '6363b8043668a3ad', fmspc: '50806f000000', at: '2026-06-01', debug: false },
  { file: GO('quote_v5_sample.dat'), version: 5, mrTd: '7348651a34b2d2d3', fmspc: '90c06f000000', at: '2026-06-01', debug: false },
  { file: GO('ccel/cos-113-tdx-quote.dat'), version: 4, mrTd: 'dae67181d3d65e07', fmspc: '00806f050000', at: '2026-06-01', debug: false },
];

function collateralDir(): string {
  const d = path.join(tmp.dir, 'collateral');
  mkdirSync(d, { recursive: true });
  copyFileSync(GO('sample_tcbInfo_response'), path.join(d, 'tcbinfo-50806f000000.json'));
  copyFileSync(GO('sample_qeIdentity_response'), path.join(d, 'qe_identity.json'));
  copyFileSync(GO('pckcrl'), path.join(d, 'pck_crl.der'));
  copyFileSync(GO('rootcrl.der'), path.join(d, 'root_ca_crl.der'));
  copyFileSync(path.join(CHAINS, 'tcbInfoIssuerChain.pem'), path.join(d, 'tcb_info_issuer_chain.pem'));
  copyFileSync(path.join(CHAINS, 'qeIdentityIssuerChain.pem'), path.join(d, 'qe_identity_issuer_chain.pem'));
  copyFileSync(path.join(CHAINS, 'pckCrlIssuerChain.pem'), path.join(d, 'pck_crl_issuer_chain.pem'));
  return d;
}

function collateralV3(): QuoteCollateral {
  const tcb = splitSignedBody(readFileSync(GO('sample_tcbInfo_response'), 'utf8'), 'tcbInfo');
  const qe = splitSignedBody(readFileSync(GO('sample_qeIdentity_response'), 'utf8'), 'enclaveIdentity');
  return {
    pckCrlIssuerChain: readFileSync(path.join(CHAINS, 'pckCrlIssuerChain.pem'), 'utf8'),
    rootCaCrl: read(GO('rootcrl.der')),
    pckCrl: read(GO('pckcrl')),
    tcbInfoIssuerChain: readFileSync(path.join(CHAINS, 'tcbInfoIssuerChain.pem'), 'utf8'),
    tcbInfo: tcb.raw,
    tcbInfoSignature: tcb.signature,
    qeIdentityIssuerChain: readFileSync(path.join(CHAINS, 'qeIdentityIssuerChain.pem'), 'utf8'),
    qeIdentity: qe.raw,
    qeIdentitySignature: qe.signature,
  };
}

test('every TDX vector parses and its signatures, QE binding and PCK chain verify', async () => {
  for (const v of QUOTES) {
    const quote = parseTdxQuote(read(v.file));
    assert.equal(quote.header.version, v.version, v.file);
    assert.equal(Buffer.from(quote.body.mrTd).toString('hex').slice(0, 16), v.mrTd, v.file);
    const r = new TdxVerifier({ allowMissingCollateral: true, allowDebug: true });
    const out = await r.inspect(read(v.file), {}, { now: new Date(v.at) });
    assert.equal(out.claims['fmspc'], v.fmspc, v.file);
    assert.equal((out.claims['td_attributes'] as Record<string, boolean>)['debug'], v.debug, v.file);
    assert.deepEqual(out.skipped, ['root_ca_crl', 'pck_crl', 'qe_identity', 'tcb_info', 'report_data'], v.file);
  }
});

test('tdx_quote_4 claims equal trustee parse_tdx_claims_expected.json (quote, attributes, bindings)', async () => {
  const expected = JSON.parse(readFileSync(V('trustee/deps/verifier/test_data/parse_tdx_claims_expected.json'), 'utf8')) as Record<string, unknown>;
  const out = await new TdxVerifier({ allowMissingCollateral: true, allowDebug: true }).inspect(read(V('trustee/deps/verifier/test_data/tdx_quote_4.dat')), {}, { now: new Date('2026-06-01') });
  for (const key of ['quote', 'td_attributes', 'report_data', 'init_data', 'platform_instance_id']) {
    assert.deepEqual(out.claims[key], expected[key], key);
  }
});

test('quote v5 (TDX 1.5) has tee_tcb_svn2, mr_servicetd and the v5 type/size claims', async () => {
  const out = await new TdxVerifier({ allowMissingCollateral: true }).inspect(read(V('trustee/deps/verifier/test_data/tdx_quote_5.dat')), {}, { now: new Date('2026-06-01') });
  const q = out.claims['quote'] as { body: Record<string, string>; type: string; size: string };
  assert.equal(q.body['mr_servicetd'], '383c87d3bbb047b2d171eaca95312ede99f258088dc788f6ae2ccf8b6dd848fe8d47629e08b3f6cbd4a00dd47a5a033d');
  assert.equal(q.body['rtmr_0'], '9b529f3689e2e8ebb899e9abbbc3dab394d6545e8cdb28a2abb9cc2f377b83a65c01ba56b824cd3ee885df20051f5128');
  assert.equal(q.type, '0300');
  assert.equal(q.size, '88020000');
});

test('SPR_E4 with full offline collateral (directory and QuoteCollateralV3) passes every collateral check', async () => {
  const quote = parseTdxQuote(read(GO('tdx_prod_quote_SPR_E4.dat')));
  for (const collateral of [collateralDir(), collateralV3()]) {
    // The sample TCB info only lists levels newer than this platform: QVL's "TCB not supported".
    assert.throws(() => verifyTdxQuote(quote, undefined, {}, { collateral, at: SPR_TIME }), { code: 'VERIFIER_TDX_TCB_LEVEL_NOT_FOUND' });
  }
  const jsonFile = path.join(tmp.dir, 'collateral.json');
  const c = collateralV3();
  writeFileSync(jsonFile, JSON.stringify({
    pck_crl_issuer_chain: c.pckCrlIssuerChain, root_ca_crl: Buffer.from(c.rootCaCrl!).toString('hex'), pck_crl: Buffer.from(c.pckCrl!).toString('hex'),
    tcb_info_issuer_chain: c.tcbInfoIssuerChain, tcb_info: c.tcbInfo, tcb_info_signature: Buffer.from(c.tcbInfoSignature!).toString('hex'),
    qe_identity_issuer_chain: c.qeIdentityIssuerChain, qe_identity: c.qeIdentity, qe_identity_signature: Buffer.from(c.qeIdentitySignature!).toString('hex'),
  }));
  assert.throws(() => verifyTdxQuote(quote, undefined, {}, { collateral: jsonFile, at: SPR_TIME }), { code: 'VERIFIER_TDX_TCB_LEVEL_NOT_FOUND' });
});

test('TCB level matching gives a status with advisory IDs (TCB info of tdx_quote_6 and the v5 sample)', () => {
  // quote_6: PCE SVN 11 is below the UpToDate level's 13 -> OutOfDate; v5 sample: UpToDate.
  const cases: [string, string, string, string][] = [
    [V('trustee/deps/verifier/test_data/tdx_quote_6.dat'), readFileSync(V('trustee/deps/verifier/test_data/tcbInfo.json'), 'utf8'), '2025-11-01', 'OutOfDate'],
    [GO('quote_v5_sample.dat'), readFileSync(GO('sample_tcbinfo_response_v5'), 'utf8'), '2026-02-03T01:00:00Z', 'UpToDate'],
  ];
  const signing = parseCertificate(readFileSync(path.join(CHAINS, 'tcbInfoIssuerChain.pem'), 'utf8'));
  for (const [file, body, at, status] of cases) {
    const quote = parseTdxQuote(read(file));
    const pck = parsePckExtensions(verifyQuoteSignatures(quote, new Date(at), intelRoots())[0]!);
    const { raw, signature } = splitSignedBody(body, 'tcbInfo');
    // Signed by the same Intel TCB Signing key (its certificate was renewed after 2025-05).
    assert.ok(verifyP1363('sha256', Buffer.from(raw), signing.publicKey, signature));
    const m = matchTcbLevel(parseTcbInfo(raw), pck.components, pck.pceSvn, quote.body.teeTcbSvn);
    assert.equal(m.status, status, file);
    assert.ok(Array.isArray(m.advisoryIds));
  }
});

test('tampering and bad collateral fail with their own codes', async () => {
  const good = read(GO('tdx_prod_quote_SPR_E4.dat'));
  const flip = (i: number): Uint8Array => { const b = Uint8Array.from(good); b[i]! ^= 1; return b; };
  const v = new TdxVerifier({ allowMissingCollateral: true });
  const now = { now: SPR_TIME };
  await assert.rejects(v.inspect(flip(48 + 136), {}, now), { code: 'VERIFIER_TDX_QUOTE_SIGNATURE' }); // mr_td byte
  const q = parseTdxQuote(good);
  const sigStart = q.signedRegion.length + 4;
  await assert.rejects(v.inspect(flip(sigStart + 5), {}, now), { code: 'VERIFIER_TDX_QUOTE_SIGNATURE' });
  await assert.rejects(v.inspect(flip(sigStart + 128 + 6 + 100), {}, now), { code: 'VERIFIER_TDX_QE_REPORT_SIGNATURE' });
  await assert.rejects(v.inspect(flip(sigStart + 64 + 3), {}, now), { code: 'VERIFIER_TDX_QE_REPORT_BINDING' });
  // Expired PCK chain (the source asserts failure at 2053), collateral windows, wrong FMSPC.
  await assert.rejects(v.inspect(good, {}, { now: new Date('2053-07-01') }), { code: 'VERIFIER_TDX_CERT_EXPIRED' });
  const c = collateralV3();
  assert.throws(() => verifyTdxQuote(q, undefined, {}, { collateral: c, at: new Date('2023-07-10') }), { code: 'VERIFIER_TDX_COLLATERAL_EXPIRED' });
  const badSig = Uint8Array.from(c.tcbInfoSignature!); badSig[3]! ^= 1;
  assert.throws(() => verifyTdxQuote(q, undefined, {}, { collateral: { ...c, tcbInfoSignature: badSig }, at: SPR_TIME }), { code: 'VERIFIER_TDX_TCB_INFO_SIGNATURE' });
  const badQe = Uint8Array.from(c.qeIdentitySignature!); badQe[3]! ^= 1;
  assert.throws(() => verifyTdxQuote(q, undefined, {}, { collateral: { ...c, qeIdentitySignature: badQe }, at: SPR_TIME }), { code: 'VERIFIER_TDX_QE_IDENTITY_SIGNATURE' });
  const other = readFileSync(GO('sample_tcbinfo_response_v5'), 'utf8');
  const o = splitSignedBody(other, 'tcbInfo');
  // Another FMSPC's TCB info, genuinely signed by Intel, is caught by its window here; with
  // this quote's signature it fails as a signature mismatch.
  assert.throws(() => verifyTdxQuote(q, undefined, {}, { collateral: { ...c, tcbInfo: o.raw, tcbInfoSignature: o.signature }, at: SPR_TIME }), { code: 'VERIFIER_TDX_COLLATERAL_EXPIRED' });
  assert.throws(() => verifyTdxQuote(q, undefined, {}, { collateral: { ...c, tcbInfo: o.raw }, at: SPR_TIME }), { code: 'VERIFIER_TDX_TCB_INFO_SIGNATURE' });
  // A wrong certificate: the TCB-info chain presented as the PCK CRL issuer.
  assert.throws(() => verifyTdxQuote(q, undefined, {}, { collateral: { ...c, pckCrlIssuerChain: c.tcbInfoIssuerChain! }, at: SPR_TIME }), { code: 'VERIFIER_TDX_CRL_SIGNATURE' });
  assert.throws(() => verifyTdxQuote(q, undefined, {}, { at: SPR_TIME }), { code: 'VERIFIER_TDX_COLLATERAL_MISSING' });
  // Wrong certificates in the quote: another platform's PCK chain, or a chain whose
  // intermediate is not the PCK CA.
  const other4 = parseTdxQuote(read(V('trustee/deps/verifier/test_data/tdx_quote_4.dat')));
  assert.throws(() => verifyQuoteSignatures({ ...q, pckChainPem: other4.pckChainPem }, SPR_TIME, intelRoots()), { code: 'VERIFIER_TDX_QE_REPORT_SIGNATURE' });
  const blocks = q.pckChainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)!;
  const tcbSigning = readFileSync(path.join(CHAINS, 'tcbInfoIssuerChain.pem'), 'utf8');
  assert.throws(() => verifyQuoteSignatures({ ...q, pckChainPem: blocks[0] + '\n' + tcbSigning }, SPR_TIME, intelRoots()), { code: 'VERIFIER_TDX_PCK_CHAIN_UNTRUSTED' });
});

test('a PCK listed in the PCK CRL is refused as revoked', () => {
  // Intel's 2023 PCK Platform CA CRL lists 44 serials; the SPR_E4 PCK is not one of them. A
  // revoked PCK is modelled by giving the verified leaf the serial of a listed certificate
  // (a CRL cannot be re-signed without Intel's key).
  const crl = parseCrl(read(GO('pckcrl')));
  assert.equal(crl.revoked.size, 44);
  const q = parseTdxQuote(read(GO('tdx_prod_quote_SPR_E4.dat')));
  const leaf = verifyQuoteSignatures(q, SPR_TIME, intelRoots())[0]!;
  assert.doesNotThrow(() => assertNotRevoked(crl, leaf));
  const listed = [...crl.revoked][7]!;
  assert.throws(() => assertNotRevoked(crl, { ...leaf, serialHex: listed }), { code: 'VERIFIER_TDX_PCK_REVOKED' });
});

test('report_data, init_data binding and debug TDs', async () => {
  const file = V('trustee/deps/verifier/test_data/tdx_quote_6.dat');
  const quote = parseTdxQuote(read(file));
  const at = new Date('2025-11-01');
  const rd = quote.body.reportData.subarray(0, 48);
  const init = quote.body.mrConfigId;
  const ok = verifyTdxQuote(quote, undefined, { reportData: rd, initDataHash: init }, { allowMissingCollateral: true, at });
  assert.equal(ok.claims['init_data'], '889abf4718f037e38d74464c11e7c91a6e9890b5546409e1e7df9de7a51ca93152bf847bd2440328e90adb18b150ed67');
  const wrong = Uint8Array.from(rd); wrong[0]! ^= 1;
  assert.throws(() => verifyTdxQuote(quote, undefined, { reportData: wrong }, { allowMissingCollateral: true, at }), { code: 'VERIFIER_TDX_REPORT_DATA_MISMATCH' });
  assert.throws(() => verifyTdxQuote(quote, undefined, { reportData: rd, initDataHash: wrong }, { allowMissingCollateral: true, at }), { code: 'VERIFIER_TDX_INIT_DATA_MISMATCH' });
  await assert.rejects(new TdxVerifier({ allowMissingCollateral: true }).inspect(read(V('trustee/deps/verifier/test_data/tdx_quote_4.dat')), {}, { now: new Date('2026-06-01') }), { code: 'VERIFIER_TDX_DEBUG_NOT_ALLOWED' });
});

test('CCEL replays to the RTMRs of the GCP COS quote; a tampered log is refused', async () => {
  const quote = Buffer.from(read(GO('ccel/cos-113-tdx-quote.dat'))).toString('base64');
  const ccel = read(GO('ccel/ccel_data.dat'));
  const v = new TdxVerifier({ allowMissingCollateral: true });
  const now = { now: new Date('2026-06-01') };
  const zero = new Uint8Array(64);
  const out = await v.inspect({ quote, cc_eventlog: Buffer.from(ccel).toString('base64') }, { reportData: zero }, now);
  assert.equal((out.claims['uefi_event_logs'] as unknown[]).length, 43);
  const bad = Uint8Array.from(ccel);
  bad[200]! ^= 1; // inside the first event's digest area
  const badLog = Buffer.from(bad).toString('base64');
  await assert.rejects(v.inspect({ quote, cc_eventlog: badLog }, {}, now), (e: { code?: string }) => /^VERIFIER_TDX_CCEL_(RTMR_MISMATCH|MALFORMED)$/.test(e.code ?? ''));
});

test('verify() (KBS path) requires the binding and returns the TCB status', async () => {
  const v = new TdxVerifier({ allowMissingCollateral: true });
  const quote = read(V('trustee/deps/verifier/test_data/az-tdx-vtpm/td-quote.bin'));
  await assert.rejects(v.verify(quote, { reportData: new Uint8Array(0) }, { now: new Date('2026-06-01') }), { code: 'VERIFIER_BINDING_MISSING' });
  const rd = parseTdxQuote(quote).body.reportData;
  const r = await v.verify(quote, { reportData: rd }, { now: new Date('2026-06-01') });
  assert.equal(r.teeClass, 'cpu');
});

test('collateral signed by a certificate under the Intel root that is not TCB Signing is refused', () => {
  const q = parseTdxQuote(read(GO('tdx_prod_quote_SPR_E4.dat')));
  const c = collateralV3();
  // The PCK CA chain (valid, under the Intel root) presented as the TCB-info signer.
  assert.throws(() => verifyTdxQuote(q, undefined, {}, { collateral: { ...c, tcbInfoIssuerChain: c.pckCrlIssuerChain! }, at: SPR_TIME }), { code: 'VERIFIER_TDX_COLLATERAL_CHAIN_UNTRUSTED' });
});
