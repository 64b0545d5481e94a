/**
 * The attestation loop against the REAL kbs binary (memory storage, dev mode for the sample
 * TEE): kbs-cli administers it, kbs-cli get-resource and the kbs-client library attest with the
 * sample attester and decrypt the released secret.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { SampleAttester, SampleDeviceAttester } from '@kata-cc/attester';
import { hasCode } from '@kata-cc/errors';
import { KbsClient, TEE_KEY_ALGORITHMS, TeeKeyPair } from '@kata-cc/kbs-client';
import { signAdminToken } from '@kata-cc/kbs-cli';
import { requireTool, tempDir } from '@kata-cc/testing';
import { kbsCli, startKbs, writeAdminKeys, type RunningKbs } from './kbs-harness.js';

let kbs: RunningKbs;
let dir: string;
let cleanup: () => Promise<void>;
const secret = randomBytes(48);
const clients: KbsClient[] = [];

before(async () => {
  ({ dir, cleanup } = await tempDir('kbs-loop-'));
  kbs = await startKbs(dir);
  await writeFile(path.join(dir, 'secret.bin'), secret);
});
after(async () => {
  for (const c of clients) await c.close();
  await kbs?.stop();
  await cleanup?.();
});

const admin = (): string[] => ['--url', kbs.url, '--admin-key', kbs.adminKey];

test('kbs-cli set-resource then kbs-cli get-resource prints the secret (sample TEE, real KBS)', async () => {
  const set = await kbsCli([...admin(), 'set-resource', '--path', 'default/key/1', '--file', path.join(dir, 'secret.bin')]);
  assert.equal(set.code, 0, set.stderr);
  for (const alg of TEE_KEY_ALGORITHMS) {
    const get = await kbsCli(['--url', kbs.url, 'get-resource', '--path', 'kbs:///default/key/1', '--tee-key-algorithm', alg]);
    assert.equal(get.code, 0, `${alg}: ${get.stderr}`);
    assert.deepEqual(get.stdout, secret, alg);
  }
  const b64 = await kbsCli(['--url', kbs.url, 'get-resource', '--path', 'default/key/1', '--base64']);
  assert.equal(b64.stdout.toString().trim(), secret.toString('base64'));
});

test('KbsClient.getResource() attests with the sample attester and decrypts for each TEE key type (real KBS)', async () => {
  for (const alg of TEE_KEY_ALGORITHMS) {
    const c = new KbsClient({ url: kbs.url, teeKeyAlgorithm: alg, initData: 'version = "0.1.0"\nalgorithm = "sha384"\n[data]\n' }, { attester: new SampleAttester() });
    clients.push(c);
    assert.deepEqual(Buffer.from(await c.getResource('kbs:///default/key/1')), secret, alg);
    const t1 = await c.getToken();
    assert.equal((await c.getToken()).token, t1.token, 'token is cached until it expires');
  }
});

test('KbsClient in passport mode uses a token from another client with its TEE key (real KBS)', async () => {
  const key = TeeKeyPair.generate('ECDH-ES+A256KW-P521');
  const issuer = new KbsClient({ url: kbs.url, teeKey: key }, { attester: new SampleAttester() });
  clients.push(issuer);
  const token = await issuer.attest();
  const passport = new KbsClient({ url: kbs.url }, { tokenSource: async () => ({ token, teeKey: key }) });
  clients.push(passport);
  assert.deepEqual(Buffer.from(await passport.getResource('kbs:///default/key/1')), secret);
  // kbs-cli's --attestation-token mode is the same thing from the command line.
  await writeFile(path.join(dir, 'token'), token);
  await writeFile(path.join(dir, 'tee.key'), key.privateKeyPem());
  const r = await kbsCli(['--url', kbs.url, 'get-resource', '--path', 'default/key/1', '--attestation-token', path.join(dir, 'token'), '--tee-key-file', path.join(dir, 'tee.key')]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout, secret);
});

test('kbs-cli attest prints an EAR token carrying the TEE public key (real KBS)', async () => {
  const key = TeeKeyPair.generate();
  await writeFile(path.join(dir, 'attest.key'), key.privateKeyPem());
  const r = await kbsCli(['--url', kbs.url, 'attest', '--tee-key-file', path.join(dir, 'attest.key')]);
  assert.equal(r.code, 0, r.stderr);
  const claims = JSON.parse(Buffer.from(r.stdout.toString().trim().split('.')[1] ?? '', 'base64url').toString()) as Record<string, any>;
  const pub = claims['submods']['cpu0']['ear.veraison.annotated-evidence']['runtime_data_claims']['tee-pubkey'];
  assert.equal(pub.x, (key.publicJwk() as { x: string }).x);
});

test('kbs-cli resource policy: get shows Rego, deny-all blocks get-resource, allow-all restores it (real KBS)', async () => {
  const got = await kbsCli([...admin(), 'get-resource-policy']);
  assert.equal(got.code, 0, got.stderr);
  assert.match(got.stdout.toString(), /package policy/);
  const deny = await kbsCli([...admin(), 'set-resource-policy', '--deny-all']);
  assert.equal(deny.code, 0, deny.stderr);
  const refused = await kbsCli(['--url', kbs.url, 'get-resource', '--path', 'default/key/1']);
  assert.equal(refused.code, 4, refused.stderr);
  assert.match(refused.stderr, /PolicyDeny.*\[KBC_POLICY_DENIED\]/);
  assert.equal(refused.stdout.length, 0, 'nothing on stdout when refused');
  const allow = await kbsCli([...admin(), 'set-resource-policy', '--allow-all']);
  assert.equal(allow.code, 0, allow.stderr);
  assert.deepEqual((await kbsCli(['--url', kbs.url, 'get-resource', '--path', 'default/key/1'])).stdout, secret);
  const both = await kbsCli([...admin(), 'set-resource-policy', '--allow-all', '--deny-all']);
  assert.equal(both.code, 2);
  const regoFile = path.join(dir, 'policy.rego');
  await writeFile(regoFile, 'package policy\ndefault allow = false\nallow if { data["resource-path"][2] == "1" }\n');
  assert.equal((await kbsCli([...admin(), 'set-resource-policy', '--file', regoFile])).code, 0);
  assert.match((await kbsCli([...admin(), 'get-resource-policy'])).stdout.toString(), /resource-path/);
  assert.deepEqual((await kbsCli(['--url', kbs.url, 'get-resource', '--path', 'default/key/1'])).stdout, secret);
  assert.equal((await kbsCli([...admin(), 'set-resource-policy', '--allow-all'])).code, 0);
});

test('kbs-cli delete-resource removes it; get-resource then fails (real KBS)', async () => {
  await writeFile(path.join(dir, 'tmp.bin'), 'temporary');
  assert.equal((await kbsCli([...admin(), 'set-resource', '--path', 'default/tmp/x', '--file', path.join(dir, 'tmp.bin')])).code, 0);
  assert.equal((await kbsCli(['--url', kbs.url, 'get-resource', '--path', 'default/tmp/x'])).stdout.toString(), 'temporary');
  const del = await kbsCli([...admin(), 'delete-resource', '--path', 'default/tmp/x']);
  assert.equal(del.code, 0, del.stderr);
  const gone = await kbsCli(['--url', kbs.url, 'get-resource', '--path', 'default/tmp/x']);
  assert.equal(gone.code, 5, gone.stderr);
  assert.match(gone.stderr, /KBC_RESOURCE_NOT_FOUND/);
  assert.equal(gone.stdout.length, 0);
  const c = new KbsClient({ url: kbs.url }, { attester: new SampleAttester() });
  clients.push(c);
  await assert.rejects(c.getResource('kbs:///default/tmp/x'), (e) => hasCode(e, 'KBC_RESOURCE_NOT_FOUND'));
  const again = await kbsCli([...admin(), 'delete-resource', '--path', 'default/tmp/x']);
  assert.equal(again.code, 5, again.stderr);
});

test('kbs-cli reference values and attestation policy round-trip (real KBS)', async () => {
  const set = await kbsCli([...admin(), 'set-reference-value', 'svn', '1', '2']);
  assert.equal(set.code, 0, set.stderr);
  const got = await kbsCli([...admin(), 'get-reference-value', 'svn']);
  assert.equal(got.code, 0, got.stderr);
  assert.match(got.stdout.toString(), /"1"/);
  assert.match(got.stdout.toString(), /"2"/);
  const missing = await kbsCli([...admin(), 'get-reference-value', 'no_such_value']);
  assert.equal(missing.code, 5, missing.stderr);
  const policy = path.join(dir, 'att.rego');
  await writeFile(policy, 'package policy\nimport rego.v1\ndefault hardware := 97\nhardware := 2 if { input.sample.svn in query_reference_value("svn") }\ntrust_claims := {"hardware": hardware, "executables": 3, "configuration": 2}\nextensions := []\n');
  const ap = await kbsCli([...admin(), 'set-attestation-policy', '--file', policy]);
  assert.equal(ap.code, 0, ap.stderr);
  const bad = path.join(dir, 'bad.rego');
  await writeFile(bad, 'package policy\nx if {');
  const refused = await kbsCli([...admin(), 'set-attestation-policy', '--file', bad]);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /attestation policy/);
});

test('kbs-cli admin errors: no credential, wrong key, unreachable KBS, bad path (exit codes 2/4/3/2)', async () => {
  const none = await kbsCli(['--url', kbs.url, 'delete-resource', '--path', 'default/key/1']);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /KBSCLI_NO_ADMIN_CREDENTIAL/);
  const other = await writeAdminKeys(dir, 'other');
  const wrong = await kbsCli(['--url', kbs.url, '--admin-key', other.key, 'delete-resource', '--path', 'default/key/1']);
  assert.equal(wrong.code, 4, wrong.stderr);
  assert.match(wrong.stderr, /KBSCLI_ADMIN_UNAUTHORIZED/);
  const p256 = await writeAdminKeys(dir, 'p256', 'p256');
  const wrongEs = await kbsCli(['--url', kbs.url, '--admin-key', p256.key, 'get-resource-policy']);
  assert.equal(wrongEs.code, 4, wrongEs.stderr);
  const down = await kbsCli(['--url', 'http://127.0.0.1:9', '--admin-key', kbs.adminKey, 'get-resource-policy']);
  assert.equal(down.code, 3);
  assert.match(down.stderr, /hint:/);
  const bad = await kbsCli([...admin(), 'set-resource', '--path', 'default/../x', '--file', path.join(dir, 'secret.bin')]);
  assert.equal(bad.code, 2);
  // The secret is still there: nothing above changed it.
  assert.deepEqual((await kbsCli(['--url', kbs.url, 'get-resource', '--path', 'default/key/1'])).stdout, secret);
});

test('kbs-cli and KbsClient over HTTPS with --cacert; a wrong CA fails as unreachable (real KBS, TLS)', async (t) => {
  const tls = path.join(dir, 'tls');
  await mkdir(tls);
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: tls, stdio: 'pipe' });
  requireTool('openssl');
  run(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=kbs-test-ca', '-keyout', 'ca.key', '-out', 'ca.pem']);
  run(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', 'kbs.key', '-out', 'kbs.csr']);
  await writeFile(path.join(tls, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1\n');
  run(['x509', '-req', '-in', 'kbs.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-extfile', 'ext.cnf', '-out', 'kbs.pem']);
  run(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=other-ca', '-keyout', 'other.key', '-out', 'other.pem']);
  const https = await startKbs(tls, ['--tls-cert', path.join(tls, 'kbs.pem'), '--tls-key', path.join(tls, 'kbs.key')], { insecureHttp: false });
  t.after(() => https.stop());
  assert.match(https.url, /^https:/);
  const adm = ['--url', https.url, '--cacert', path.join(tls, 'ca.pem'), '--admin-key', https.adminKey];
  assert.equal((await kbsCli([...adm, 'set-resource', '--path', 'default/key/tls', '--file', path.join(dir, 'secret.bin')])).code, 0);
  const got = await kbsCli(['--url', https.url, '--cacert', path.join(tls, 'ca.pem'), 'get-resource', '--path', 'default/key/tls']);
  assert.equal(got.code, 0, got.stderr);
  assert.deepEqual(got.stdout, secret);
  const c = new KbsClient({ url: https.url, cert: await readFile(path.join(tls, 'ca.pem'), 'utf8'), handshakeAttempts: 1 }, { attester: new SampleAttester() });
  clients.push(c);
  assert.deepEqual(Buffer.from(await c.getResource('kbs:///default/key/tls')), secret);
  const wrong = await kbsCli(['--url', https.url, '--cacert', path.join(tls, 'other.pem'), 'get-resource', '--path', 'default/key/tls']);
  assert.equal(wrong.code, 3, wrong.stderr);
  const bad = new KbsClient({ url: https.url, cert: await readFile(path.join(tls, 'other.pem'), 'utf8'), handshakeAttempts: 1 }, { attester: new SampleAttester() });
  clients.push(bad);
  await assert.rejects(bad.getResource('kbs:///default/key/tls'), (e) => hasCode(e, 'KBC_HTTP_FAILED'));
});

test('KbsClient re-attests when its token nears exp (real KBS with --token-lifetime 60; the client clock is advanced)', async (t) => {
  const timed = await startKbs(dir, ['--token-lifetime', '60']);
  t.after(() => timed.stop());
  const f = path.join(dir, 'timed.bin');
  await writeFile(f, 'short-lived');
  assert.equal((await kbsCli(['--url', timed.url, '--admin-key', timed.adminKey, 'set-resource', '--path', 'default/key/s', '--file', f])).code, 0);
  let clock = Date.now();
  const c = new KbsClient({ url: timed.url }, { attester: new SampleAttester(), now: () => clock });
  clients.push(c);
  const first = await c.getToken();
  const claims = JSON.parse(Buffer.from(first.token.split('.')[1] ?? '', 'base64url').toString()) as { iat: number; exp: number };
  assert.equal(claims.exp - claims.iat, 60, 'the KBS honours --token-lifetime');
  assert.equal(Buffer.from(await c.getResource('kbs:///default/key/s')).toString(), 'short-lived');
  // The client renews 5 s before exp: the same token until then, a new attestation from then on.
  // (The KBS's own clock is real: its expiry of tokens is tested in kbs/server with KbsCoreOptions.now.)
  clock = claims.exp * 1000 - 5_001;
  assert.equal((await c.getToken()).token, first.token);
  clock = claims.exp * 1000 - 5_000;
  const second = await c.getToken();
  assert.notEqual(second.token, first.token);
  assert.equal(Buffer.from(await c.getResource('kbs:///default/key/s')).toString(), 'short-lived');
});

test('kbs-cli admin with an ES256 (P-256) key, a pre-made --admin-token-file, and --file - (real KBS)', async (t) => {
  const es = await startKbs(dir, [], { adminKeyType: 'p256' });
  t.after(() => es.stop());
  const set = await kbsCli(['--url', es.url, '--admin-key', es.adminKey, 'set-resource', '--path', 'default/key/es', '--file', '-'], {}, Buffer.from('from stdin'));
  assert.equal(set.code, 0, set.stderr);
  assert.equal((await kbsCli(['--url', es.url, 'get-resource', '--path', 'default/key/es'])).stdout.toString(), 'from stdin');
  const token = await signAdminToken(await readFile(es.adminKey));
  await writeFile(path.join(dir, 'admin.jwt'), `${token}\n`);
  const withToken = await kbsCli(['--url', es.url, '--admin-token-file', path.join(dir, 'admin.jwt'), 'get-resource-policy']);
  assert.equal(withToken.code, 0, withToken.stderr);
  const expired = await signAdminToken(await readFile(es.adminKey), Math.floor(Date.now() / 1000) - 3600);
  await writeFile(path.join(dir, 'expired.jwt'), expired);
  const refused = await kbsCli(['--url', es.url, '--admin-token-file', path.join(dir, 'expired.jwt'), 'get-resource-policy']);
  assert.equal(refused.code, 4, refused.stderr);
});

test('composite evidence: the sample device is bound and appraised as a second submod (real KBS)', async () => {
  const c = new KbsClient({ url: kbs.url }, { attester: new SampleAttester(), additionalAttesters: [new SampleDeviceAttester()] });
  clients.push(c);
  const claims = JSON.parse(Buffer.from((await c.attest()).split('.')[1] ?? '', 'base64url').toString()) as { submods: Record<string, Record<string, any>> };
  const names = Object.keys(claims.submods).sort();
  assert.equal(names.length, 2, names.join(','));
  const device = Object.values(claims.submods).find((m) => m['ear.veraison.annotated-evidence']['sampledevice'] !== undefined);
  assert.ok(device, 'a submod carries the sampledevice claims');
  assert.deepEqual(Buffer.from(await c.getResource('kbs:///default/key/1')), secret);
  // kbs-cli enables the device like guest-components: ENABLE_SAMPLE_DEVICE.
  const r = await kbsCli(['--url', kbs.url, 'attest'], { ENABLE_SAMPLE_DEVICE: '1' });
  assert.equal(r.code, 0, r.stderr);
  const cli = JSON.parse(Buffer.from(r.stdout.toString().trim().split('.')[1] ?? '', 'base64url').toString()) as { submods: Record<string, unknown> };
  assert.equal(Object.keys(cli.submods).length, 2);
});

test('kbs-cli accepts trustee kbs-client command lines (config --auth-private-key, --resource-file) (real KBS)', async () => {
  await writeFile(path.join(dir, 'trustee.bin'), 'via trustee syntax');
  const set = await kbsCli(['--url', kbs.url, 'config', '--auth-private-key', kbs.adminKey, 'set-resource', '--path', 'default/key/trustee', '--resource-file', path.join(dir, 'trustee.bin')]);
  assert.equal(set.code, 0, set.stderr);
  const got = await kbsCli(['--url', kbs.url, 'get-resource', '--path', 'default/key/trustee', '--base64']);
  assert.equal(Buffer.from(got.stdout.toString().trim(), 'base64').toString(), 'via trustee syntax');
  const rv = await kbsCli(['--url', kbs.url, 'config', '--auth-private-key', kbs.adminKey, 'set-sample-reference-value', 'launch_version', '7', '--as-integer']);
  assert.equal(rv.code, 0, rv.stderr);
  assert.match((await kbsCli(['--url', kbs.url, 'config', '--auth-private-key', kbs.adminKey, 'get-reference-value', '--id', 'launch_version'])).stdout.toString(), /7/);
});
