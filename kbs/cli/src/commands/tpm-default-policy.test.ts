/**
 * The DEFAULT default_cpu policy with a real software TPM (swtpm) through the real kbs binary:
 * no custom attestation policy. A TPM guest is not affirming (nothing released) until the
 * operator registers its PCR values (`tpm_pcrNN`); then the resource is released; a registered
 * value that differs from the TPM's PCR locks it again.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { createAttester } from '@kata-cc/attester';
import { startSwtpm, type Swtpm } from '@kata-cc/attester/testing';
import { repoRoot, requireTool, startKbsProcess, tempDir, type KbsProcess } from '@kata-cc/testing';

let tmp: { dir: string; cleanup: () => Promise<void> };
let tpm: Swtpm | undefined;
let kbs: KbsProcess | undefined;
let adminKey = '';

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(repoRoot(), 'kbs/cli/bin/kbs-cli.js'), '--url', kbs!.url, ...args], { encoding: 'utf8', env: { ...process.env, AA_TPM_DEVICE: tpm!.spec } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

before(async () => {
  requireTool('swtpm');
  tmp = await tempDir('kbs-tpm-default-');
  tpm = await startSwtpm();
  const ev = (await createAttester('tpm', { env: { AA_TPM_DEVICE: tpm.spec } }).getEvidence(new Uint8Array(48))) as { ak_public: string };
  const akPem = createPublicKey({ key: Buffer.from(ev.ak_public, 'base64'), format: 'der', type: 'spki' }).export({ type: 'spki', format: 'pem' }) as string;
  writeFileSync(path.join(tmp.dir, 'verifier.json'), JSON.stringify({ tpm: { trustedAks: [akPem] } }));
  const admin = generateKeyPairSync('ed25519');
  adminKey = path.join(tmp.dir, 'admin.key');
  writeFileSync(adminKey, admin.privateKey.export({ format: 'pem', type: 'pkcs8' }));
  writeFileSync(path.join(tmp.dir, 'admin.pub'), admin.publicKey.export({ format: 'pem', type: 'spki' }));
  kbs = await startKbsProcess(['--insecure-http', '--storage', 'memory:', '--admin-key', path.join(tmp.dir, 'admin.pub'), '--verifier-config', path.join(tmp.dir, 'verifier.json')]);
  writeFileSync(path.join(tmp.dir, 'secret'), 'for a measured TPM');
  assert.equal(cli(['--admin-key', adminKey, 'set-resource', '--path', 'default/tpm/1', '--file', path.join(tmp.dir, 'secret')]).status, 0);
});

after(async () => {
  await kbs?.stop();
  await tpm?.stop();
  await tmp?.cleanup();
});

function status(): { status: string; pcr11: string } {
  const r = cli(['attest', '--tee', 'tpm']);
  assert.equal(r.status, 0, r.stderr);
  const c = JSON.parse(Buffer.from(r.stdout.trim().split('.')[1]!, 'base64url').toString()) as { submods: { cpu0: Record<string, unknown> } };
  const tpmClaims = (c.submods.cpu0['ear.veraison.annotated-evidence'] as { tpm: Record<string, string> }).tpm;
  return { status: String(c.submods.cpu0['ear.status']), pcr11: tpmClaims['pcr11']! };
}

test('default policy + swtpm: not affirming without reference values, affirming with the TPM PCR11 registered, refused again when it differs', () => {
  const before = status();
  assert.notEqual(before.status, 'affirming');
  assert.notEqual(cli(['get-resource', '--tee', 'tpm', '--path', 'default/tpm/1']).status, 0, 'nothing released without reference values');

  assert.equal(cli(['--admin-key', adminKey, 'set-reference-value', 'tpm_pcr11', before.pcr11]).status, 0);
  assert.equal(status().status, 'affirming');
  const got = cli(['get-resource', '--tee', 'tpm', '--path', 'default/tpm/1']);
  assert.equal(got.status, 0, got.stderr);
  assert.equal(got.stdout, 'for a measured TPM');

  assert.equal(cli(['--admin-key', adminKey, 'set-reference-value', 'tpm_pcr11', 'ff'.repeat(32)]).status, 0);
  assert.notEqual(status().status, 'affirming');
  assert.notEqual(cli(['get-resource', '--tee', 'tpm', '--path', 'default/tpm/1']).status, 0);
});
