import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot, sharedDir, tempDir } from '@kata-cc/testing';

const V = (...p: string[]): string => sharedDir('vectors', ...p);
let tmp: { dir: string; cleanup: () => Promise<void> };
before(async () => { tmp = await tempDir('kcc-cli-verify-'); });
after(async () => { await tmp.cleanup(); });

function cli(...args: string[]): { status: number | null; json: Record<string, unknown> } {
  const r = spawnSync(process.execPath, [path.join(repoRoot(), 'kbs/cli/bin/kbs-cli.js'), 'verify', ...args], { encoding: 'utf8' });
  return { status: r.status, json: JSON.parse(r.stdout) as Record<string, unknown> };
}

test('kbs-cli verify: SNP wire JSON verifies (exit 0), claims in lowercase hex', () => {
  const ev = JSON.parse(readFileSync(V('trustee/attestation-service/tests/e2e/evidence.json'), 'utf8')) as { attestation_report: { report_data: number[] } };
  const rd = Buffer.from(ev.attestation_report.report_data).toString('hex');
  const r = cli('--tee', 'snp', '--evidence', V('trustee/attestation-service/tests/e2e/evidence.json'), '--report-data', rd);
  assert.equal(r.status, 0);
  assert.equal(r.json['verified'], true);
  assert.equal((r.json['claims'] as Record<string, string>)['measurement'], '6a6519d757e68c2e939c9dbbbc1828498e8de35d2766dd05f1a2cca5059d0cf4ae62a36d75c837974dd50b315506e73e');
  const bad = cli('--tee', 'snp', '--evidence', V('trustee/attestation-service/tests/e2e/evidence.json'), '--report-data', `0x${'00'.repeat(48)}`);
  assert.notEqual(bad.status, 0);
  assert.equal((bad.json['error'] as Record<string, string>)['code'], 'VERIFIER_SNP_REPORT_DATA_MISMATCH');
});

test('kbs-cli verify: hex text report with --vcek, and a flipped byte fails with its code', () => {
  const hexFile = V('virtee-sev/tests/certs_data/report_milan.hex');
  const ok = cli('--tee', 'snp', '--evidence', hexFile, '--vcek', V('virtee-sev/tests/certs_data/vcek_milan.der'));
  assert.equal(ok.status, 0, JSON.stringify(ok.json));
  const text = readFileSync(hexFile, 'utf8').replace(/\s+/g, '');
  const flipped = `0x${text.slice(0, 100)}${text[100] === '0' ? '1' : '0'}${text.slice(101)}`;
  writeFileSync(path.join(tmp.dir, 'bad.hex'), flipped);
  const bad = cli('--tee', 'snp', '--evidence', path.join(tmp.dir, 'bad.hex'), '--vcek', V('virtee-sev/tests/certs_data/vcek_milan.der'));
  assert.equal(bad.status, 4);
  assert.equal((bad.json['error'] as Record<string, string>)['code'], 'VERIFIER_SNP_REPORT_SIGNATURE');
});

test('kbs-cli verify: TDX raw quote needs collateral; --allow-missing-collateral lists what was skipped; --time past expiry fails', () => {
  const quote = V('go-tdx-guest/testing/testdata/tdx_prod_quote_SPR_E4.dat');
  const missing = cli('--tee', 'tdx', '--evidence', quote);
  assert.equal(missing.status, 2);
  assert.equal((missing.json['error'] as Record<string, string>)['code'], 'VERIFIER_TDX_COLLATERAL_MISSING');
  const relaxed = cli('--tee', 'tdx', '--evidence', quote, '--allow-missing-collateral', '--time', '2023-07-01T00:00:00Z');
  assert.equal(relaxed.status, 0);
  assert.deepEqual(relaxed.json['skipped_checks'], ['root_ca_crl', 'pck_crl', 'qe_identity', 'tcb_info', 'report_data']);
  assert.equal((relaxed.json['claims'] as { quote: { body: Record<string, string> } }).quote.body['mr_td'], '6363b8043668a3ad953278e10389574d326c6749fb78aa810ecd9336923db86f22fc00b8dcd404bc10d5e119d7215cbb');
  const expired = cli('--tee', 'tdx', '--evidence', quote, '--allow-missing-collateral', '--time', '2053-07-01T00:00:00Z');
  assert.equal((expired.json['error'] as Record<string, string>)['code'], 'VERIFIER_TDX_CERT_EXPIRED');
});

test('kbs-cli verify: a KBS Attestation message and the sample TEE', () => {
  const quote = readFileSync(V('trustee/deps/verifier/test_data/az-tdx-vtpm/td-quote.bin')).toString('base64');
  const att = { 'runtime-data': { nonce: 'n', 'tee-pubkey': {} }, 'tee-evidence': { primary_evidence: { quote, cc_eventlog: null }, additional_evidence: '' } };
  writeFileSync(path.join(tmp.dir, 'att.json'), JSON.stringify(att));
  const r = cli('--tee', 'tdx', '--evidence', path.join(tmp.dir, 'att.json'), '--allow-missing-collateral');
  assert.equal(r.status, 0, JSON.stringify(r.json));
  writeFileSync(path.join(tmp.dir, 'sample.json'), JSON.stringify({ svn: '1', report_data: Buffer.from('abc').toString('base64') }));
  const s = cli('--tee', 'sample', '--evidence', path.join(tmp.dir, 'sample.json'), '--report-data', Buffer.from('abc').toString('hex'));
  assert.equal(s.status, 0, JSON.stringify(s.json));
  const u = spawnSync(process.execPath, [path.join(repoRoot(), 'kbs/cli/bin/kbs-cli.js'), 'verify', '--tee', 'nope', '--evidence', 'x'], { encoding: 'utf8' });
  assert.equal(u.status, 2);
});
