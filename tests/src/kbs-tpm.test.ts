/**
 * Real (software) TPM attestation through the guest components to the real KBS: swtpm with a
 * provisioned AK, the attestation-agent binary with the TPM attester (no sample TEE), initdata
 * bound by extending PCR8 and checked by the KBS, the CDH fetching a resource with the AA's
 * token. A second AA start with other initdata is refused (PCR8 already holds the first).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, createPublicKey } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { AA_SERVICE, aaType } from '@kata-cc/attestation-agent';
import { TpmAttester } from '@kata-cc/attester';
import { hasCode } from '@kata-cc/errors';
import { KbsClient } from '@kata-cc/kbs-client';
import { startSwtpm, type Swtpm } from '@kata-cc/attester/testing';
import { cdhType } from '@kata-cc/cdh';
import { requireTool, tempDir } from '@kata-cc/testing';
import { TtrpcClient } from '@kata-cc/ttrpc';
import { AA_BIN, CDH_BIN, ProcessGroup, kbsCli, startKbs, type RunningKbs } from './kbs-harness.js';

let dir: string;
let cleanup: () => Promise<void>;
let tpm: Swtpm;
let kbs: RunningKbs;
const procs = new ProcessGroup();
const clients: TtrpcClient[] = [];
const initdataFor = (url: string, note: string): string =>
  `version = "0.1.0"\nalgorithm = "sha256"\n[data]\n"aa.toml" = '''\n[token_configs.kbs]\nurl = "${url}"\n'''\n"note" = "${note}"\n`;

before(async () => {
  requireTool('swtpm');
  ({ dir, cleanup } = await tempDir('kbs-tpm-'));
  tpm = await startSwtpm();
  // The KBS trusts this TPM's AK (trustee's trusted_ak_keys), taken from its evidence.
  const ev = await new TpmAttester({ device: tpm.spec }).getEvidence(new Uint8Array(0));
  const akPem = createPublicKey({ key: Buffer.from(ev.ak_public, 'base64'), format: 'der', type: 'spki' }).export({ format: 'pem', type: 'spki' }).toString();
  await writeFile(path.join(dir, 'verifier.json'), JSON.stringify({ tpm: { trustedAks: [akPem] } }));
  kbs = await startKbs(dir, ['--verifier-config', path.join(dir, 'verifier.json')]);
  // The operator's side: reference values of this TPM (its AK and PCR0) and a default_cpu
  // attestation policy that affirms a TPM matching them. The KBS releases resources only to
  // "affirming" appraisals, so without these the resource stays locked.
  const admin = ['--url', kbs.url, '--admin-key', kbs.adminKey];
  const akSha256 = createHash('sha256').update(Buffer.from(ev.ak_public, 'base64')).digest('hex');
  akFingerprint = akSha256;
  const pcr0 = ev.tpm_quote.pcrs[0] ?? '';
  await writeFile(path.join(dir, 'tpm-policy.rego'), TPM_POLICY);
  for (const args of [['set-reference-value', 'tpm_pcr00', pcr0], ['set-reference-value', 'tpm_ak', akSha256], ['set-attestation-policy', '--file', path.join(dir, 'tpm-policy.rego'), '--id', 'default_cpu']]) {
    const r = await kbsCli([...admin, ...args]);
    assert.equal(r.code, 0, r.stderr);
  }
  await writeFile(path.join(dir, 'secret'), 'released to a TPM');
  const set = await kbsCli(['--url', kbs.url, '--admin-key', kbs.adminKey, 'set-resource', '--path', 'default/tpm/1', '--file', path.join(dir, 'secret')]);
  assert.equal(set.code, 0, set.stderr);
});

after(async () => {
  for (const c of clients) c.close();
  await procs.stopAll();
  await kbs?.stop();
  await tpm?.stop();
  await cleanup?.();
});

const aaEnv = (): Record<string, string> => ({ AA_TPM_DEVICE: tpm.spec });
let akFingerprint = '';

/** default_cpu for this test: affirm a TPM whose AK and PCR0 are registered reference values. */
const TPM_POLICY = `package policy
import rego.v1
default executables := 33
default hardware := 97
default configuration := 36
hardware := 2 if { input.tpm.ak_sha256 in query_reference_value("tpm_ak") }
executables := 3 if { input.tpm.pcr00 in query_reference_value("tpm_pcr00") }
configuration := 2 if { input.init_data_claims["aa.toml"] }
trust_claims := {"executables": executables, "hardware": hardware, "configuration": configuration}
`;

test('a TPM guest without initdata is appraised but not affirming, so nothing is released (swtpm, in-process client)', async () => {
  const c = new KbsClient({ url: kbs.url }, { attester: new TpmAttester({ device: tpm.spec }) });
  try {
    const claims = JSON.parse(Buffer.from((await c.attest()).split('.')[1] ?? '', 'base64url').toString()) as Record<string, any>;
    assert.equal(claims['submods']['cpu0']['ear.veraison.annotated-evidence']['tpm']['ak_sha256'], akFingerprint);
    assert.notEqual(claims['submods']['cpu0']['ear.status'], 'affirming');
    await assert.rejects(c.getResource('kbs:///default/tpm/1'), (e) => hasCode(e, 'KBC_POLICY_DENIED'));
  } finally {
    await c.close();
  }
});

test('AA with the TPM attester: initdata bound in PCR8, KBS verifies quote + init-data, CDH gets the resource (swtpm)', async () => {
  const initdata = initdataFor(kbs.url, 'first');
  await writeFile(path.join(dir, 'initdata-1.toml'), initdata);
  const aaSock = `unix://${path.join(dir, 'aa.sock')}`;
  await procs.start(AA_BIN, ['--attestation-sock', aaSock, '--tee', 'tpm', '--initdata-toml', path.join(dir, 'initdata-1.toml')], /attestation agent ready/, aaEnv());
  const aa = await TtrpcClient.connect(aaSock);
  clients.push(aa);
  const tok = await aa.request<{ TokenType: string }, { Token: Buffer }>(AA_SERVICE, 'GetToken', aaType('GetTokenRequest'), aaType('GetTokenResponse'), { TokenType: 'kbs' }, { timeoutMs: 60_000 });
  const claims = JSON.parse(Buffer.from((JSON.parse(tok.Token.toString()) as { token: string }).token.split('.')[1] ?? '', 'base64url').toString()) as Record<string, any>;
  const annotated = claims['submods']['cpu0']['ear.veraison.annotated-evidence'];
  assert.ok(annotated['tpm'], 'the token carries TPM claims');
  assert.equal(annotated['init_data'], createHash('sha256').update(initdata).digest('hex'));
  assert.equal(claims['submods']['cpu0']['ear.status'], 'affirming');

  await writeFile(path.join(dir, 'cdh.toml'), `socket = "unix://${path.join(dir, 'cdh.sock')}"\n[aa]\naa_socket = "${aaSock}"\n[kbc]\nname = "cc_kbc"\nurl = "${kbs.url}"\n`);
  await procs.start(CDH_BIN, ['-c', path.join(dir, 'cdh.toml')], /confidential data hub ready/);
  const cdh = await TtrpcClient.connect(`unix://${path.join(dir, 'cdh.sock')}`);
  clients.push(cdh);
  const r = await cdh.request<{ ResourcePath: string }, { Resource: Buffer }>('api.GetResourceService', 'GetResource', cdhType('api.GetResourceRequest'), cdhType('api.GetResourceResponse'), { ResourcePath: 'kbs:///default/tpm/1' }, { timeoutMs: 60_000 });
  assert.equal(r.Resource.toString(), 'released to a TPM');
});

test('AA refuses to start with initdata other than the one bound in PCR8 (swtpm)', async () => {
  await writeFile(path.join(dir, 'initdata-2.toml'), initdataFor(kbs.url, 'second'));
  const { code, out } = await new Promise<{ code: number | null; out: string }>((resolve) => {
    const p = spawn(process.execPath, [AA_BIN, '--attestation-sock', `unix://${path.join(dir, 'aa2.sock')}`, '--tee', 'tpm', '--initdata-toml', path.join(dir, 'initdata-2.toml')], { env: { ...process.env, ...aaEnv() }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.once('close', (c) => resolve({ code: c, out }));
  });
  assert.equal(code, 1, out);
  assert.match(out, /AA_INITDATA_MISMATCH/);
});
