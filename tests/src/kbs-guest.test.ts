/**
 * The guest side against the REAL kbs binary: the attestation-agent and confidential-data-hub
 * binaries (sample TEE, dev-mode KBS) talking ttRPC on Unix sockets, the CDH taking its KBS
 * token from the AA (passport mode) as guest-components does. Covers GetEvidence, GetToken,
 * initdata, ExtendRuntimeMeasurement, GetResource, UnsealSecret (vault and envelope) and the
 * keyprovider UnWrapKey over ttRPC and gRPC (image-rs's client).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { aaType, AA_SERVICE, decodeAaelLog } from '@kata-cc/attestation-agent';
import { hasCode } from '@kata-cc/errors';
import { cdhType, kbsEnvelope, sealSecret } from '@kata-cc/cdh';
import { GrpcKeyProvider } from '@kata-cc/image-rs';
import { tempDir } from '@kata-cc/testing';
import { TtrpcClient } from '@kata-cc/ttrpc';
import { AA_BIN, CDH_BIN, ProcessGroup, kbsCli, startKbs, type RunningKbs } from './kbs-harness.js';


let kbs: RunningKbs;
let dir: string;
let cleanup: () => Promise<void>;
const procs = new ProcessGroup();
const clients: TtrpcClient[] = [];
let aa: TtrpcClient;
let cdh: TtrpcClient;
let grpcAddress: string;
let initdata: string;

const secret = randomBytes(40);
const kek = randomBytes(32);
const signer = generateKeyPairSync('ec', { namedCurve: 'P-256' });

async function setResource(p: string, data: Uint8Array | string): Promise<void> {
  const f = path.join(dir, `res-${p.replace(/\//g, '_')}`);
  await writeFile(f, data);
  const r = await kbsCli(['--url', kbs.url, '--admin-key', kbs.adminKey, 'set-resource', '--path', p, '--file', f]);
  assert.equal(r.code, 0, r.stderr);
}

before(async () => {
  ({ dir, cleanup } = await tempDir('kbs-guest-'));
  kbs = await startKbs(dir);
  await setResource('default/key/1', secret);
  await setResource('default/kek/1', kek);
  await setResource('default/sealing/pub', JSON.stringify(signer.publicKey.export({ format: 'jwk' })));

  initdata = `version = "0.1.0"\nalgorithm = "sha384"\n[data]\n"aa.toml" = '''\n[token_configs.kbs]\nurl = "${kbs.url}"\n[eventlog_config]\nenable_eventlog = true\ninit_pcr = 17\n'''\n"cdh.toml" = '''\n[kbc]\nname = "cc_kbc"\nurl = "${kbs.url}"\n'''\n`;
  await writeFile(path.join(dir, 'initdata.toml'), initdata);
  const aaSock = `unix://${path.join(dir, 'aa.sock')}`;
  await procs.start(AA_BIN, ['--attestation_sock', aaSock, '--initdata-toml', path.join(dir, 'initdata.toml'), '--allow-sample', '--eventlog-dir', path.join(dir, 'aael')], /attestation agent ready/);
  await writeFile(path.join(dir, 'cdh.toml'), `socket = "unix://${path.join(dir, 'cdh.sock')}"\n[aa]\naa_socket = "${aaSock}"\n[kbc]\nname = "cc_kbc"\nurl = "${kbs.url}"\n`);
  const m = await procs.start(CDH_BIN, ['-c', path.join(dir, 'cdh.toml'), '--keyprovider-grpc', '127.0.0.1:0'], /"address":"([^"]+)","msg":"keyprovider gRPC service ready"[\s\S]*confidential data hub ready/);
  grpcAddress = m[1] ?? '';
  aa = await TtrpcClient.connect(aaSock);
  cdh = await TtrpcClient.connect(`unix://${path.join(dir, 'cdh.sock')}`);
  clients.push(aa, cdh);
});

after(async () => {
  for (const c of clients) c.close();
  await procs.stopAll();
  await kbs?.stop();
  await cleanup?.();
});

const getResource = (uri: string) =>
  cdh.request<{ ResourcePath: string }, { Resource: Buffer }>('api.GetResourceService', 'GetResource', cdhType('api.GetResourceRequest'), cdhType('api.GetResourceResponse'), { ResourcePath: uri });
const unseal = (s: string) =>
  cdh.request<{ secret: Buffer }, { plaintext: Buffer }>('api.SealedSecretService', 'UnsealSecret', cdhType('api.UnsealSecretInput'), cdhType('api.UnsealSecretOutput'), { secret: Buffer.from(s) });

test('AA GetEvidence and GetTeeType over ttRPC (attestation-agent binary, sample TEE)', async () => {
  const ev = await aa.request<{ RuntimeData: Buffer }, { Evidence: Buffer }>(AA_SERVICE, 'GetEvidence', aaType('GetEvidenceRequest'), aaType('GetEvidenceResponse'), { RuntimeData: Buffer.from('hello') });
  assert.deepEqual(JSON.parse(ev.Evidence.toString()), { svn: '1', report_data: Buffer.from('hello').toString('base64') });
  assert.deepEqual(await aa.request(AA_SERVICE, 'GetTeeType', aaType('GetTeeTypeRequest'), aaType('GetTeeTypeResponse'), {}), { tee: 'sample' });
});

test('AA GetToken("kbs") attests to the real KBS with init-data and hands out token + TEE key', async () => {
  const r = await aa.request<{ TokenType: string }, { Token: Buffer }>(AA_SERVICE, 'GetToken', aaType('GetTokenRequest'), aaType('GetTokenResponse'), { TokenType: 'kbs' });
  const body = JSON.parse(r.Token.toString()) as { token: string; tee_keypair: string };
  assert.match(body.tee_keypair, /BEGIN PRIVATE KEY/);
  const claims = JSON.parse(Buffer.from(body.token.split('.')[1] ?? '', 'base64url').toString()) as Record<string, any>;
  const annotated = claims['submods']['cpu0']['ear.veraison.annotated-evidence'];
  assert.ok(annotated['runtime_data_claims']['tee-pubkey'], 'token carries the TEE key');
  // The KBS hashed the exact initdata bytes the AA sent and exposes its configs as claims.
  assert.equal(annotated['init_data'], createHash('sha384').update(initdata).digest('hex'));
  assert.equal(annotated['init_data_claims']['aa.toml']['token_configs']['kbs']['url'], kbs.url);
  // Every GetToken is a fresh handshake (guest-components' AA): the CDH asks again only when the
  // KBS refused its token, so a cached answer would never recover (e.g. a KBS with a new signer).
  const again = await aa.request<{ TokenType: string }, { Token: Buffer }>(AA_SERVICE, 'GetToken', aaType('GetTokenRequest'), aaType('GetTokenResponse'), { TokenType: 'kbs' });
  const jti = (t: Buffer): unknown => JSON.parse(Buffer.from((JSON.parse(t.toString()) as { token: string }).token.split('.')[1] ?? '', 'base64url').toString())['jti'];
  assert.notEqual(jti(again.Token), jti(r.Token), 'a new token, not the cached one');
});

test('AA ExtendRuntimeMeasurement appends a TCG2 AAEL entry (event log from initdata aa.toml)', async () => {
  await aa.request(AA_SERVICE, 'ExtendRuntimeMeasurement', aaType('ExtendRuntimeMeasurementRequest'), aaType('ExtendRuntimeMeasurementResponse'), {
    Domain: 'github.com/confidential-containers', Operation: 'PullImage', Content: '{"image":"busybox","digest":"sha256:00"}',
  });
  const log = decodeAaelLog(await readFile(path.join(dir, 'aael', 'eventlog')));
  assert.deepEqual(log, ['github.com/confidential-containers PullImage {"image":"busybox","digest":"sha256:00"}']);
});

test('CDH GetResource fetches kbs:/// resources with the token from the AA (real KBS)', async () => {
  assert.deepEqual((await getResource('kbs:///default/key/1')).Resource, secret);
  await assert.rejects(getResource('kbs:///default/key/404'), /not found/);
  await assert.rejects(getResource('kbs:///default/../x'), /Invalid kbs resource uri/);
});

test('CDH UnsealSecret opens vault and envelope sealed secrets (signing JWK and KEK in the KBS)', async () => {
  const vault = sealSecret({ type: 'vault', provider: 'kbs', name: 'kbs:///default/key/1', provider_settings: {}, annotations: {} }, signer.privateKey, 'kbs:///default/sealing/pub');
  assert.deepEqual((await unseal(vault)).plaintext, secret);
  const envelope = sealSecret(kbsEnvelope(Buffer.from('envelope secret'), kek, 'kbs:///default/kek/1'), signer.privateKey, 'kbs:///default/sealing/pub');
  assert.equal((await unseal(envelope)).plaintext.toString(), 'envelope secret');
  const forged = sealSecret({ type: 'vault', provider: 'kbs', name: 'kbs:///default/key/1' }, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, 'kbs:///default/sealing/pub');
  await assert.rejects(unseal(forged), /signature does not verify/);
});

test('CDH keyprovider UnWrapKey returns the layer key over ttRPC and over gRPC (image-rs client)', async () => {
  const lek = Buffer.from(JSON.stringify({ symkey: randomBytes(32).toString('base64'), cipheroptions: { nonce: randomBytes(16).toString('base64') }, digest: 'sha256:00' }));
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', kek, iv);
  const wrapped = Buffer.concat([c.update(lek), c.final(), c.getAuthTag()]);
  const annotation = Buffer.from(JSON.stringify({ kid: 'kbs:///default/kek/1', wrapped_data: wrapped.toString('base64'), iv: iv.toString('base64'), wrap_type: 'A256GCM' }));
  const input = { op: 'keyunwrap', keywrapparams: { ec: null, optsdata: null }, keyunwrapparams: { dc: null, annotation: annotation.toString('base64') } };
  type KpIn = { KeyProviderKeyWrapProtocolInput: Buffer };
  type KpOut = { KeyProviderKeyWrapProtocolOutput: Buffer };
  const out = await cdh.request<KpIn, KpOut>('keyprovider.KeyProviderService', 'UnWrapKey', cdhType('keyprovider.keyProviderKeyWrapProtocolInput'), cdhType('keyprovider.keyProviderKeyWrapProtocolOutput'), { KeyProviderKeyWrapProtocolInput: Buffer.from(JSON.stringify(input)) });
  assert.deepEqual(Buffer.from(JSON.parse(out.KeyProviderKeyWrapProtocolOutput.toString()).keyunwrapresults.optsdata), lek);
  const grpcClient = new GrpcKeyProvider(grpcAddress);
  try {
    assert.deepEqual(Buffer.from(await grpcClient.unwrapKey({ provider: 'attestation-agent', annotation })), lek);
  } finally {
    grpcClient.close();
  }
});

test('kbs-cli seal-secret output is opened by CDH UnsealSecret (vault and envelope)', async () => {
  const signingKey = path.join(dir, 'signing.pem');
  await writeFile(signingKey, signer.privateKey.export({ format: 'pem', type: 'pkcs8' }));
  await writeFile(path.join(dir, 'kek.bin'), kek);
  const vault = await kbsCli(['seal-secret', '--signing-key', signingKey, '--kid', 'kbs:///default/sealing/pub', '--vault', 'kbs:///default/key/1']);
  assert.equal(vault.code, 0, vault.stderr);
  assert.match(vault.stdout.toString(), /^sealed\.[\w-]+\.[\w-]+\.[\w-]+\n$/);
  assert.deepEqual((await unseal(vault.stdout.toString().trim())).plaintext, secret);
  const env = await kbsCli(['seal-secret', '--signing-key', signingKey, '--kid', 'kbs:///default/sealing/pub', '--envelope', '--file', '-', '--key-id', 'kbs:///default/kek/1', '--kek-file', path.join(dir, 'kek.bin')], {}, Buffer.from('db password'));
  assert.equal(env.code, 0, env.stderr);
  assert.equal((await unseal(env.stdout.toString().trim())).plaintext.toString(), 'db password');
  const bad = await kbsCli(['seal-secret', '--signing-key', signingKey, '--kid', 'x', '--vault', 'kbs:///a/b/c', '--envelope']);
  assert.equal(bad.code, 2);
});

test('CDH GetResource reports a resource-policy denial as KBC_POLICY_DENIED through ttRPC (real KBS)', async () => {
  const rego = path.join(dir, 'deny-denied.rego');
  await writeFile(rego, 'package policy\ndefault allow = false\nallow if {\n\tdata.plugin == "resource"\n\tdata["resource-path"][1] != "denied"\n}\n');
  const set = await kbsCli(['--url', kbs.url, '--admin-key', kbs.adminKey, 'set-resource-policy', '--file', rego]);
  assert.equal(set.code, 0, set.stderr);
  await setResource('default/denied/1', 'never released');
  try {
    await assert.rejects(getResource('kbs:///default/denied/1'), (e) => hasCode(e, 'KBC_POLICY_DENIED') && (e as { kind?: string }).kind === 'PERMISSION_DENIED');
    assert.deepEqual((await getResource('kbs:///default/key/1')).Resource, secret);
  } finally {
    assert.equal((await kbsCli(['--url', kbs.url, '--admin-key', kbs.adminKey, 'set-resource-policy', '--allow-all'])).code, 0);
  }
});
