import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before } from 'node:test';
import { sharedDir, tempDir } from '@kata-cc/testing';
import { parseCertificate } from '../common/x509.js';
import { parseSnpReport } from './report.js';
import { SnpVerifier, checkSnpPolicy, decodeSnpEvidence } from './snp-verifier.js';
import { checkVekMatchesReport, tcbPrefix, vekHwid, vendorChain, verifyVekChain } from './vek.js';
import { decodeTcb } from './report.js';

const V = (...p: string[]): string => sharedDir('vectors', ...p);
const SNP = (f: string): string => V('trustee/deps/verifier/test_data/snp', f);
const read = (p: string): Uint8Array => new Uint8Array(readFileSync(p));
const hex = (b64: unknown): string => Buffer.from(String(b64), 'base64').toString('hex');
let tmp: { dir: string; cleanup: () => Promise<void> };
before(async () => { tmp = await tempDir('kcc-snp-'); });
after(async () => { await tmp.cleanup(); });

test('trustee test-report.bin (Milan, v2) verifies with test-vcek.der', async () => {
  const v = new SnpVerifier({ vek: read(SNP('test-vcek.der')) });
  const out = await v.inspect(read(SNP('test-report.bin')), {});
  assert.equal(hex(out.claims['measurement']), 'a1f3930413247bb38cfc171579ea3c12d5fe4901f0c792f63fd75d98f1ef827c23500644e0e692e6be917f9050d3d38c');
  assert.equal(out.claims['generation'], 'Milan');
  assert.equal(out.claims['report_version'], '2');
  assert.equal(out.claims['vek_type'], 'VCEK');
  assert.match(hex(out.claims['report_data']), /^ec6c52d7533cc2c4/);
});

test('trustee test-vlek-report.bin (VLEK via ASVK, VMPL 1) verifies when VMPL 1 is allowed', async () => {
  const at = { now: new Date('2025-06-01') };
  const out = await new SnpVerifier({ vek: read(SNP('test-vlek.der')), maxVmpl: 1 }).inspect(read(SNP('test-vlek-report.bin')), {}, at);
  assert.equal(hex(out.claims['measurement']), '8922ebbdd00ec2c541f36a6e7a82a8773a7accb451ed67bc94e740dbe92c93c4e8c9af857f5ceeb5a493df2a570d7bf0');
  assert.equal(out.claims['vek_type'], 'VLEK');
  // trustee refuses VMPL 1 ("VMPL Check Failed"), and so do we by default.
  await assert.rejects(new SnpVerifier({ vek: read(SNP('test-vlek.der')) }).inspect(read(SNP('test-vlek-report.bin')), {}, at), { code: 'VERIFIER_SNP_VMPL_NOT_ALLOWED' });
  // The VLEK expired on 2025-12-10.
  await assert.rejects(new SnpVerifier({ vek: read(SNP('test-vlek.der')), maxVmpl: 1 }).inspect(read(SNP('test-vlek-report.bin')), {}, { now: new Date('2026-06-01') }), { code: 'VERIFIER_SNP_CERT_EXPIRED' });
});

test('trustee e2e evidence.json (Genoa, KBS wire JSON, VCEK in cert_chain) verifies and binds report_data', async () => {
  const text = readFileSync(V('trustee/attestation-service/tests/e2e/evidence.json'), 'utf8');
  const ev = JSON.parse(text) as { attestation_report: { report_data: number[]; host_data: number[] } };
  const v = new SnpVerifier();
  const rd = Uint8Array.from(ev.attestation_report.report_data);
  for (const evidence of [ev, text, new Uint8Array(Buffer.from(text))]) {
    const out = await v.inspect(evidence, { reportData: rd, initDataHash: Uint8Array.from(ev.attestation_report.host_data) });
    assert.equal(hex(out.claims['measurement']), '6a6519d757e68c2e939c9dbbbc1828498e8de35d2766dd05f1a2cca5059d0cf4ae62a36d75c837974dd50b315506e73e');
    assert.equal(out.claims['generation'], 'Genoa');
    assert.equal(out.claims['reported_tcb_snp'], '23');
    assert.equal(out.claims['policy_smt_allowed'], 'true');
    assert.equal(out.claims['policy_debug_allowed'], 'false');
  }
  const wrong = Uint8Array.from(rd); wrong[1]! ^= 1;
  await assert.rejects(v.inspect(ev, { reportData: wrong }), { code: 'VERIFIER_SNP_REPORT_DATA_MISMATCH' });
  await assert.rejects(v.inspect(ev, { reportData: rd, initDataHash: wrong }), { code: 'VERIFIER_SNP_INIT_DATA_MISMATCH' });
  const r = await v.verify(ev, { reportData: rd });
  assert.equal(r.teeClass, 'cpu');
});

test('virtee report_milan.hex verifies with vcek_milan.der; the Azure HCL-embedded report with vcek.pem', async () => {
  const hexText = readFileSync(V('virtee-sev/tests/certs_data/report_milan.hex'), 'utf8');
  const report = new Uint8Array(Buffer.from(hexText.replace(/\s+/g, ''), 'hex'));
  const out = await new SnpVerifier({ vek: V('virtee-sev/tests/certs_data/vcek_milan.der') }).inspect(report, {});
  assert.equal(hex(out.claims['measurement']), '7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f');
  const hcl = read(V('trustee/deps/verifier/test_data/az-snp-vtpm/hcl-report.bin'));
  const az = await new SnpVerifier({ vek: V('trustee/deps/verifier/test_data/az-snp-vtpm/vcek.pem') }).inspect(hcl.subarray(0x20, 0x4c0), {});
  assert.equal(hex(az.claims['measurement']), '9ac48fcac8a2d88aeeff8d427ad4f2be0e3917c748a18bdf52cc317e7fe20308b459d5ef1a12e0c22944eb386d17c315');
});

test('the offline VCEK store vcek/<hwid>/<tcb>_vcek.der is used when the evidence has no VCEK', async () => {
  const report = parseSnpReport(read(SNP('test-report.bin')));
  const prefix = tcbPrefix(decodeTcb(report.reportedTcb, 'Milan'));
  assert.match(prefix, /^bl\d\d_tee\d\d_snp\d\d_ucode\d+$/);
  const dir = path.join(tmp.dir, 'vcek', Buffer.from(report.chipId).toString('hex'));
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, `${prefix}_vcek.der`), read(SNP('test-vcek.der')));
  const out = await new SnpVerifier({ vcekStoreDir: tmp.dir }).inspect(read(SNP('test-report.bin')), {});
  assert.equal(out.claims['generation'], 'Milan');
  await assert.rejects(new SnpVerifier().inspect(read(SNP('test-report.bin')), {}), { code: 'VERIFIER_SNP_VEK_MISSING' });
});

test('bundled ARK/ASK/ASVK for Milan, Genoa, Turin; the Turin VCEK chains', () => {
  for (const g of ['Milan', 'Genoa', 'Turin'] as const) {
    const c = vendorChain(g);
    assert.match(c.ark.subject, new RegExp(`CN=ARK-${g}`));
    assert.match(c.ask.subject, new RegExp(`CN=SEV-${g}`));
    assert.match(c.asvk.subject, new RegExp(`CN=SEV-VLEK-${g}`));
    for (const x of [c.ark, c.ask, c.asvk]) assert.ok(x.x509.verify(c.ark.publicKey));
  }
  const turin = parseCertificate(read(V('virtee-sev/tests/certs_data/vcek_turin.der')));
  assert.equal(verifyVekChain(turin, 'VCEK', undefined, new Date('2026-06-01')), 'Turin');
});

test('modified VCEKs parse (legacy raw and OCTET STRING hwID) but do not chain', () => {
  for (const f of ['test-vcek-invalid-legacy.der', 'test-vcek-invalid-new.der']) {
    const c = parseCertificate(read(SNP(f)));
    assert.equal(vekHwid(c)?.length, 64, f);
    assert.throws(() => verifyVekChain(c, 'VCEK', 'Milan', new Date('2026-06-01')), { code: 'VERIFIER_SNP_VEK_SIGNATURE' }, f);
  }
  const vcek = Uint8Array.from(read(SNP('test-vcek.der')));
  vcek[42]! += 1;
  assert.throws(() => verifyVekChain(parseCertificate(vcek), 'VCEK', 'Milan', new Date('2026-06-01')), (e: { code?: string }) => /^VERIFIER_SNP_VEK_(SIGNATURE|UNTRUSTED)$/.test(e.code ?? ''));
});

test('tampering, wrong VCEK, TCB, chip ID and policy each fail with their own code', async () => {
  const good = read(SNP('test-report.bin'));
  const vek = read(SNP('test-vcek.der'));
  const flipped = Uint8Array.from(good); flipped[42]! += 1;
  await assert.rejects(new SnpVerifier({ vek }).inspect(flipped, {}), { code: 'VERIFIER_SNP_REPORT_SIGNATURE' });
  const tcbFlip = Uint8Array.from(good); tcbFlip[384]! += 1;
  await assert.rejects(new SnpVerifier({ vek }).inspect(tcbFlip, {}), { code: 'VERIFIER_SNP_REPORT_SIGNATURE' });
  // The TCB check on its own (trustee `check_report_tcb_failure`).
  const cert = parseCertificate(vek);
  assert.throws(() => checkVekMatchesReport(cert, parseSnpReport(tcbFlip), 'VCEK', 'Milan'), { code: 'VERIFIER_SNP_TCB_MISMATCH' });
  const chipFlip = Uint8Array.from(good); chipFlip[0x1a0]! ^= 1;
  assert.throws(() => checkVekMatchesReport(cert, parseSnpReport(chipFlip), 'VCEK', 'Milan'), { code: 'VERIFIER_SNP_CHIP_ID_MISMATCH' });
  // Another chip's (valid, AMD-signed) VCEK.
  await assert.rejects(new SnpVerifier({ vek: V('virtee-sev/tests/certs_data/vcek_milan.der') }).inspect(good, {}), { code: 'VERIFIER_SNP_REPORT_SIGNATURE' });
  const ev = decodeSnpEvidence(JSON.parse(readFileSync(V('trustee/attestation-service/tests/e2e/evidence.json'), 'utf8')));
  const r = parseSnpReport(ev.report);
  assert.throws(() => checkSnpPolicy({ ...r, policy: r.policy | (1n << 19n) }, {}), { code: 'VERIFIER_SNP_DEBUG_NOT_ALLOWED' });
  assert.doesNotThrow(() => checkSnpPolicy({ ...r, policy: r.policy | (1n << 19n) }, { allowDebug: true }));
  assert.throws(() => checkSnpPolicy({ ...r, policy: r.policy | (1n << 18n) }, {}), { code: 'VERIFIER_SNP_MIGRATION_AGENT_NOT_ALLOWED' });
  assert.equal(r.platInfo & 1n, 1n); // the e2e platform runs with SMT
  assert.throws(() => checkSnpPolicy(r, { refuseSmt: true }), { code: 'VERIFIER_SNP_SMT_NOT_ALLOWED' });
  assert.doesNotThrow(() => checkSnpPolicy(r, {}));
  await assert.rejects(new SnpVerifier().inspect({ attestation_report: { version: 3 } }, {}), { code: 'VERIFIER_SNP_EVIDENCE_MALFORMED' });
  await assert.rejects(new SnpVerifier().inspect(new Uint8Array(100), {}), { code: 'VERIFIER_SNP_REPORT_MALFORMED' });
});

test('VCEK from a fake KDS (AMD KDS URL layout), cached into the offline store for the next verification', async () => {
  const http = await import('node:http');
  const report = parseSnpReport(read(SNP('test-report.bin')));
  const hwid = Buffer.from(report.chipId).toString('hex');
  const urls: string[] = [];
  const server = http.createServer((req, res) => {
    urls.push(req.url ?? '');
    if (req.url?.startsWith(`/vcek/v1/Milan/${hwid}?blSPL=`)) {
      res.writeHead(200);
      res.end(readFileSync(SNP('test-vcek.der')));
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const store = path.join(tmp.dir, 'kds-store');
    const v = new SnpVerifier({ kdsUrl: url, vcekStoreDir: store });
    const out = await v.inspect(read(SNP('test-report.bin')), {});
    assert.equal(out.claims['generation'], 'Milan');
    assert.equal(urls.length, 1);
    assert.match(urls[0]!, /teeSPL=\d+&snpSPL=\d+&ucodeSPL=\d+$/);
    await v.inspect(read(SNP('test-report.bin')), {});
    assert.equal(urls.length, 1, 'second verification used the store');
    const vlek = read(SNP('test-vlek-report.bin'));
    await assert.rejects(new SnpVerifier({ kdsUrl: url, maxVmpl: 1 }).inspect(vlek, {}, { now: new Date('2025-06-01') }), { code: 'VERIFIER_SNP_VEK_MISSING' });
    await assert.rejects(new SnpVerifier({ kdsUrl: 'http://127.0.0.1:9' }).inspect(read(SNP('test-report.bin')), {}), { code: 'VERIFIER_SNP_VEK_FETCH_FAILED' });
  } finally {
    await new Promise((r) => server.close(r));
  }
});
