import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { hasCode } from '@kata-cc/errors';
import { buildTar, httpRaw, pushImage, pushManifest, requireTool, sha256, startRegistry, tempDir, writeOciLayout, type TestRegistry } from '@kata-cc/testing';
import { pullImage } from '../pull.js';
import { parseReference } from '../reference.js';
import { loadRegistriesD } from './lookaside.js';
import { parsePolicy, policyScopes, requirementsFor } from './policy.js';
import { identityMatches } from './identity.js';

const skopeo = requireTool('skopeo');
const gpg = requireTool('gpg');
const tmp = await tempDir('img-sig-');
const p = (f: string): string => path.join(tmp.dir, f);
const gnupg = p('gnupg');
let reg: TestRegistry;
const env = { ...process.env, GNUPGHOME: gnupg };

function genKey(uid: string): string {
  execFileSync(gpg, ['--batch', '--passphrase', '', '--quick-gen-key', uid, 'rsa2048', 'sign', 'never'], { env, stdio: 'ignore' });
  const out = execFileSync(gpg, ['--with-colons', '--list-keys', uid], { env, encoding: 'utf8' });
  return /^fpr:+([0-9A-F]+):/m.exec(out)?.[1] ?? '';
}

before(async () => {
  mkdirSync(gnupg, { mode: 0o700 });
  reg = await startRegistry();
  const fpr = genKey('Signer <signer@test.invalid>');
  const other = genKey('Other <other@test.invalid>');
  writeFileSync(p('signer.asc'), execFileSync(gpg, ['--armor', '--export', fpr], { env }));
  writeFileSync(p('other.asc'), execFileSync(gpg, ['--armor', '--export', other], { env }));
  mkdirSync(p('registries.d'));
  writeFileSync(p('registries.d/default.yaml'), `docker:\n  ${reg.host}:\n    lookaside: file://${p('sigstore')}\n    lookaside-staging: file://${p('sigstore')}\n`);
  writeOciLayout(p('layout'), 'v1', { layers: [{ tar: buildTar([{ path: 'signed.txt', data: 'signed content' }]) }] });
  execFileSync(skopeo, ['--registries.d', p('registries.d'), 'copy', '--quiet', '--dest-tls-verify=false', '--sign-by', fpr, `oci:${p('layout')}:v1`, `docker://${reg.host}/sig/signed:v1`], { env });
  await (pushImage(reg, 'sig/unsigned', 'v1', { layers: [{ tar: buildTar([{ path: 'u.txt', data: 'u' }]) }] }));
  // Same manifest under another name, with the signature copied over: identity must not match.
  execFileSync(skopeo, ['copy', '--quiet', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${reg.host}/sig/signed:v1`, `docker://${reg.host}/sig/renamed:v1`]);
  const sigDir = readdirSync(p('sigstore/sig')).find((d) => d.startsWith('signed@')) ?? '';
  cpSync(p(`sigstore/sig/${sigDir}`), p(`sigstore/sig/renamed@${sigDir.slice('signed@'.length)}`), { recursive: true });
});
after(async () => {
  try {
    execFileSync('gpgconf', ['--kill', 'all'], { env, stdio: 'ignore' });
  } catch {
    // agent not running
  }
  await reg?.stop();
  await tmp.cleanup();
});

let n = 0;
async function pullWith(ref: string, policy: object, extra: Record<string, unknown> = {}): Promise<string> {
  const dest = p(`b${n++}`);
  await pullImage(`${reg.host}/${ref}`, {
    dest, insecureRegistries: [reg.host], policy: parsePolicy(JSON.stringify(policy)), lookaside: await loadRegistriesD(p('registries.d')), ...extra,
  });
  return dest;
}
const signedBy = (keyPath: string, extra: object = {}): object => ({
  default: [{ type: 'reject' }],
  transports: { docker: { [reg.host]: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath, ...extra }] } },
});

test('pullImage() accepts an image signed by skopeo --sign-by (lookaside store) under signedBy', async () => {
  const d = await pullWith('sig/signed:v1', signedBy(p('signer.asc')));
  assert.equal(readFileSync(path.join(d, 'rootfs/signed.txt'), 'utf8'), 'signed content');
});

test('pullImage() refuses an unsigned image before fetching any layer (IMG_SIGNATURE_MISSING)', async () => {
  await assert.rejects(pullWith('sig/unsigned:v1', signedBy(p('signer.asc'))), (e) => hasCode(e, 'IMG_SIGNATURE_MISSING'));
  assert.deepEqual(readdirSync(p(`b${n - 1}`)), []);
});

test('pullImage() refuses a signature by another key (IMG_SIGNATURE_INVALID)', async () => {
  await assert.rejects(pullWith('sig/signed:v1', signedBy(p('other.asc'))), (e) => hasCode(e, 'IMG_SIGNATURE_INVALID') && /invalid GPG signature/.test((e as Error).message));
});

test('pullImage() checks the signed identity (matchRepoDigestOrExact, remapIdentity)', async () => {
  await assert.rejects(pullWith('sig/renamed:v1', signedBy(p('signer.asc'))), (e) => hasCode(e, 'IMG_SIGNATURE_INVALID') && /identity/.test((e as Error).message));
  await pullWith('sig/renamed:v1', signedBy(p('signer.asc'), { signedIdentity: { type: 'remapIdentity', prefix: `${reg.host}/sig/renamed`, signedPrefix: `${reg.host}/sig/signed` } }));
});

test('pullImage() reads policy keys from kbs:/// through the injected resource provider', async () => {
  const asked: string[] = [];
  const resources = { getResource: async (uri: string): Promise<Uint8Array> => (asked.push(uri), readFileSync(p('signer.asc'))) };
  await pullWith('sig/signed:v1', signedBy('kbs:///default/gpg-key/signer'), { resources });
  assert.deepEqual(asked, ['kbs:///default/gpg-key/signer']);
  await assert.rejects(pullWith('sig/signed:v1', signedBy('kbs:///default/gpg-key/signer')), (e) => hasCode(e, 'IMG_RESOURCE_UNAVAILABLE'));
});

test('pullImage() takes the policy and the signature store config from kbs:/// URIs', async () => {
  const docs: Record<string, Buffer> = {
    'kbs:///default/security-policy/test': Buffer.from(JSON.stringify(signedBy('kbs:///default/gpg-key/signer'))),
    'kbs:///default/sigstore-config/test': readFileSync(p('registries.d/default.yaml')),
    'kbs:///default/gpg-key/signer': readFileSync(p('signer.asc')),
  };
  const resources = { getResource: async (uri: string): Promise<Uint8Array> => docs[uri] ?? Promise.reject(new Error('not found')) };
  const dest = p(`b${n++}`);
  await pullImage(`${reg.host}/sig/signed:v1`, {
    dest, insecureRegistries: [reg.host], resources, policy: 'kbs:///default/security-policy/test', lookaside: 'kbs:///default/sigstore-config/test',
  });
  assert.equal(readFileSync(path.join(dest, 'rootfs/signed.txt'), 'utf8'), 'signed content');
  await assert.rejects(
    pullImage(`${reg.host}/sig/unsigned:v1`, { dest: p(`b${n++}`), insecureRegistries: [reg.host], resources, policy: 'kbs:///default/security-policy/test', lookaside: 'kbs:///default/sigstore-config/test' }),
    (e) => hasCode(e, 'IMG_SIGNATURE_MISSING'),
  );
});

test('pullImage() honours reject and insecureAcceptAnything by scope', async () => {
  const policy = { default: [{ type: 'insecureAcceptAnything' }], transports: { docker: { [`${reg.host}/sig/unsigned`]: [{ type: 'reject' }] } } };
  await assert.rejects(pullWith('sig/unsigned:v1', policy), (e) => hasCode(e, 'IMG_POLICY_REJECTED'));
  await pullWith('sig/signed:v1', policy);
});

function cosignKey(): { priv: KeyObject; pubPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { priv: privateKey, pubPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

async function cosignSign(repo: string, digest: string, key: KeyObject, identity: string): Promise<void> {
  const payload = Buffer.from(JSON.stringify({ critical: { identity: { 'docker-reference': identity }, image: { 'docker-manifest-digest': digest }, type: 'cosign container image signature' }, optional: null }));
  const cfg = Buffer.from('{}');
  for (const b of [payload, cfg]) {
    const start = await httpRaw('POST', `${reg.url}/v2/${repo}/blobs/uploads/`, {});
    const loc = new URL(String(start.headers.location), reg.url);
    loc.searchParams.set('digest', sha256(b));
    await httpRaw('PUT', loc.toString(), { 'content-type': 'application/octet-stream' }, b);
  }
  const m = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(cfg), size: cfg.length },
    layers: [{ mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json', digest: sha256(payload), size: payload.length,
      annotations: { 'dev.cosignproject.cosign/signature': sign('sha256', payload, key).toString('base64') } }],
  }));
  await pushManifest(reg, repo, `${digest.replace(':', '-')}.sig`, m, 'application/vnd.oci.image.manifest.v1+json');
}

test('pullImage() verifies cosign-format signatures stored in the registry (sigstoreSigned)', async () => {
  const good = cosignKey();
  const bad = cosignKey();
  const img = await pushImage(reg, 'sig/cosign', 'v1', { layers: [{ tar: buildTar([{ path: 'c.txt', data: 'cosigned' }]) }] });
  writeFileSync(p('cosign.pub'), good.pubPem);
  const policy = (keyPath: string): object => ({ default: [{ type: 'reject' }], transports: { docker: { [`${reg.host}/sig`]: [{ type: 'sigstoreSigned', keyPath }] } } });
  await assert.rejects(pullWith('sig/cosign:v1', policy(p('cosign.pub'))), (e) => hasCode(e, 'IMG_SIGNATURE_MISSING'));
  await cosignSign('sig/cosign', img.manifestDigest, good.priv, `${reg.host}/sig/cosign:v1`);
  const d = await pullWith('sig/cosign:v1', policy(p('cosign.pub')));
  assert.equal(readFileSync(path.join(d, 'rootfs/c.txt'), 'utf8'), 'cosigned');
  writeFileSync(p('bad.pub'), bad.pubPem);
  await assert.rejects(pullWith('sig/cosign:v1', policy(p('bad.pub'))), (e) => hasCode(e, 'IMG_SIGNATURE_INVALID'));
});

test('policyScopes() lists scopes from the most specific, as containers/image does', () => {
  assert.deepEqual(policyScopes(parseReference('reg.example.com:5000/a/b/c:tag')), [
    'reg.example.com:5000/a/b/c:tag', 'reg.example.com:5000/a/b/c', 'reg.example.com:5000/a/b', 'reg.example.com:5000/a', 'reg.example.com:5000',
    '*.example.com', '*.com',
  ]);
  const pol = parsePolicy(JSON.stringify({ default: [{ type: 'reject' }], transports: { docker: { '*.example.com': [{ type: 'insecureAcceptAnything' }], '': [{ type: 'reject' }] } } }));
  assert.equal(requirementsFor(pol, parseReference('a.example.com/x')).scope, '*.example.com');
  assert.equal(requirementsFor(pol, parseReference('quay.io/x')).scope, 'docker default');
  assert.throws(() => parsePolicy('{"default":[]}'), (e) => hasCode(e, 'IMG_POLICY_INVALID'));
  assert.throws(() => parsePolicy('{"default":[{"type":"signedBy","keyType":"GPGKeys"}]}'), (e) => hasCode(e, 'IMG_POLICY_INVALID'));
});

test('identityMatches() implements the signedIdentity rules', () => {
  const img = parseReference('r.io/ns/app:1');
  assert.ok(identityMatches(undefined, img, 'r.io/ns/app:1'));
  assert.ok(!identityMatches(undefined, img, 'r.io/ns/app:2'));
  assert.ok(identityMatches({ type: 'matchRepository' }, img, 'r.io/ns/app:2'));
  assert.ok(identityMatches(undefined, parseReference(`r.io/ns/app@sha256:${'a'.repeat(64)}`), 'r.io/ns/app:any'));
  assert.ok(identityMatches({ type: 'exactRepository', dockerRepository: 'r.io/other' }, img, 'r.io/other:9'));
  assert.ok(!identityMatches({ type: 'exactReference', dockerReference: 'r.io/other:1' }, img, 'r.io/other:2'));
});
