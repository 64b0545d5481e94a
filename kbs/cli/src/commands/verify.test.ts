import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createAttester } from '@kata-cc/attester';
import { startSwtpm } from '@kata-cc/attester/testing';
import { repoRoot, requireTool, sharedDir, startKbsProcess, tempDir } from '@kata-cc/testing';

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

test('kbs-cli verify --tee tpm: a quote from the TPM attester on a real swtpm verifies; other AKs and nonces are refused', async () => {
  requireTool('swtpm');
  requireTool('tpm2_createak');
  const tpm = await startSwtpm();
  try {
    const attester = createAttester('tpm', { env: { AA_TPM_DEVICE: tpm.spec } });
    const rd = createHash('sha384').update('nonce+tee-pubkey').digest();
    const ev = (await attester.getEvidence(rd)) as { ak_public: string };
    const evFile = path.join(tmp.dir, 'tpm-evidence.json');
    writeFileSync(evFile, JSON.stringify(ev));
    const akFile = path.join(tmp.dir, 'ak.pub');
    writeFileSync(akFile, createPublicKey({ key: Buffer.from(ev.ak_public, 'base64'), format: 'der', type: 'spki' }).export({ type: 'spki', format: 'pem' }));
    const ok = cli('--tee', 'tpm', '--evidence', evFile, '--trusted-ak', akFile, '--report-data', rd.toString('hex'));
    assert.equal(ok.status, 0, JSON.stringify(ok.json));
    assert.equal((ok.json['claims'] as Record<string, string>)['report_data'], Buffer.concat([rd, Buffer.alloc(16)]).toString('hex'));
    const wrongNonce = cli('--tee', 'tpm', '--evidence', evFile, '--trusted-ak', akFile, '--report-data', '00'.repeat(48));
    assert.equal((wrongNonce.json['error'] as Record<string, string>)['code'], 'VERIFIER_TPM_REPORT_DATA_MISMATCH');
    const otherAk = path.join(tmp.dir, 'other.pub');
    writeFileSync(otherAk, generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }));
    const untrusted = cli('--tee', 'tpm', '--evidence', evFile, '--trusted-ak', otherAk);
    assert.equal((untrusted.json['error'] as Record<string, string>)['code'], 'VERIFIER_TPM_AK_UNTRUSTED');
  } finally {
    await tpm.stop();
  }
});

test('through a real KBS: kbs-cli attest --tee tpm (TPM attester on swtpm) gets a token whose claims come from the TPM verifier; an untrusted AK is refused', async () => {
  requireTool('swtpm');
  requireTool('tpm2_createak');
  const tpm = await startSwtpm();
  const stops: (() => Promise<void>)[] = [tpm.stop];
  try {
    const ev = (await createAttester('tpm', { env: { AA_TPM_DEVICE: tpm.spec } }).getEvidence(new Uint8Array(48))) as { ak_public: string };
    const akPem = createPublicKey({ key: Buffer.from(ev.ak_public, 'base64'), format: 'der', type: 'spki' }).export({ type: 'spki', format: 'pem' }) as string;
    const run = async (trusted: string): Promise<{ status: number | null; stdout: string; stderr: string }> => {
      const cfg = path.join(tmp.dir, `verifier-${Math.random().toString(36).slice(2)}.json`);
      writeFileSync(cfg, JSON.stringify({ tpm: { trustedAks: [trusted] } }));
      const kbs = await startKbsProcess(['--insecure-http', '--storage', 'memory:', '--verifier-config', cfg]);
      stops.push(kbs.stop);
      const r = spawnSync(process.execPath, [path.join(repoRoot(), 'kbs/cli/bin/kbs-cli.js'), '--url', kbs.url, 'attest', '--tee', 'tpm'], {
        encoding: 'utf8', env: { ...process.env, AA_TPM_DEVICE: tpm.spec },
      });
      return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    };
    const ok = await run(akPem);
    assert.equal(ok.status, 0, ok.stderr);
    const claims = JSON.parse(Buffer.from(ok.stdout.trim().split('.')[1]!, 'base64url').toString()) as { submods: Record<string, Record<string, Record<string, unknown>>> };
    const evidence = claims.submods['cpu0']!['ear.veraison.annotated-evidence']!['tpm'] as Record<string, string>;
    assert.match(evidence['report_data']!, /^[0-9a-f]{128}$/);
    assert.equal(evidence['pcr08']!.length, 64);
    const otherAk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
    const refused = await run(otherAk);
    assert.equal(refused.status, 4, refused.stderr);
  } finally {
    for (const s of stops.reverse()) await s().catch(() => undefined);
  }
});

test('kbs-cli verify --tee az-snp-vtpm: trustee\'s Azure evidence, report_data "challenge", hex claims', () => {
  const r = cli('--tee', 'az-snp-vtpm', '--evidence', V('trustee/deps/verifier/test_data/az-snp-vtpm/evidence-v1.json'), '--report-data', Buffer.from('challenge').toString('hex'));
  assert.equal(r.status, 0, JSON.stringify(r.json));
  const claims = r.json['claims'] as Record<string, unknown>;
  assert.equal(claims['report_data'], '6368616c6c656e6765');
  assert.match(claims['measurement'] as string, /^[0-9a-f]{96}$/);
  assert.equal((claims['tpm'] as Record<string, string>)['pcr00'], 'e15c44796beabf46abcec7c57e590942041e47497e4ec27571c8b7664f48dced');
});

test('through a real KBS: real TDX, SNP and az-snp-vtpm evidence pass every hardware check and are refused only for not binding this session', async () => {
  const cfg = path.join(tmp.dir, 'verifier-hw.json');
  writeFileSync(cfg, JSON.stringify({ tdx: { allowMissingCollateral: true } }));
  const kbs = await startKbsProcess(['--insecure-http', '--storage', 'memory:', '--verifier-config', cfg]);
  try {
    const cases: [string, unknown, string][] = [
      ['snp', JSON.parse(readFileSync(V('trustee/attestation-service/tests/e2e/evidence.json'), 'utf8')), 'VERIFIER_SNP_REPORT_DATA_MISMATCH'],
      ['tdx', { quote: readFileSync(V('trustee/deps/verifier/test_data/az-tdx-vtpm/td-quote.bin')).toString('base64'), cc_eventlog: null }, 'VERIFIER_TDX_REPORT_DATA_MISMATCH'],
      ['az-snp-vtpm', JSON.parse(readFileSync(V('trustee/deps/verifier/test_data/az-snp-vtpm/evidence-v2.json'), 'utf8')), 'VERIFIER_AZ_SNP_REPORT_DATA_MISMATCH'],
    ];
    for (const [tee, evidence, code] of cases) {
      const auth = await fetch(`${kbs.url}/kbs/v0/auth`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ version: '0.4.0', tee, 'extra-params': {} }) });
      assert.equal(auth.status, 200, tee);
      const cookie = auth.headers.get('set-cookie')!.split(';')[0]!;
      const { nonce } = (await auth.json()) as { nonce: string };
      const teePubkey = { kty: 'EC', crv: 'P-256', alg: 'ECDH-ES+A256KW', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0' };
      const att = { 'runtime-data': { nonce, 'tee-pubkey': teePubkey }, 'tee-evidence': { primary_evidence: evidence, additional_evidence: '' } };
      const res = await fetch(`${kbs.url}/kbs/v0/attest`, { method: 'POST', headers: { 'content-type': 'application/json', cookie }, body: JSON.stringify(att) });
      assert.equal(res.status, 401, tee);
      assert.match(((await res.json()) as { type: string }).type, /AttestationError$/);
      // The KBS's log line travels through a pipe: wait for it rather than for a fixed time.
      const logged = new RegExp(`"code":"${code}"`);
      for (let i = 0; i < 200 && !logged.test(kbs.stderr()); i++) await new Promise((r) => setTimeout(r, 50));
      assert.match(kbs.stderr(), logged, tee);
    }
  } finally {
    await kbs.stop();
  }
});

test('kbs-cli verify --tee snp: the ARK CRL check is listed as skipped without a CRL, and --require-ark-crl refuses', () => {
  const ev = V('trustee/attestation-service/tests/e2e/evidence.json');
  const plain = cli('--tee', 'snp', '--evidence', ev);
  assert.equal(plain.status, 0, JSON.stringify(plain.json));
  assert.ok((plain.json['skipped_checks'] as string[]).includes('ark_crl'));
  const strict = cli('--tee', 'snp', '--evidence', ev, '--require-ark-crl');
  assert.notEqual(strict.status, 0);
  assert.match(JSON.stringify(strict.json['error']), /VERIFIER_SNP_CRL_MISSING/);
});
