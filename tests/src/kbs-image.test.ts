/**
 * Encrypted image pulled in the guest with a key the KBS releases after (sample) attestation:
 * real registry, skopeo-encrypted layers re-wrapped for the `attestation-agent` key provider
 * (what coco-keyprovider produces), the real kbs, attestation-agent and confidential-data-hub
 * binaries; CDH PullImage over ttRPC unwraps each layer key through the KBS and unpacks.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createCipheriv, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { cdhType } from '@kata-cc/cdh';
import { decryptJwe, loadPrivateKey } from '@kata-cc/image-rs';
import { buildTar, httpRaw, pushManifest, requireTool, startRegistry, tempDir, writeOciLayout, type TestRegistry } from '@kata-cc/testing';
import { TtrpcClient } from '@kata-cc/ttrpc';
import { AA_BIN, CDH_BIN, ProcessGroup, kbsCli, startKbs, type RunningKbs } from './kbs-harness.js';

const ENC_KEYS_JWE = 'org.opencontainers.image.enc.keys.jwe';
const ENC_KEYS_PROVIDER = 'org.opencontainers.image.enc.keys.provider.';

let dir: string;
let cleanup: () => Promise<void>;
let reg: TestRegistry;
let kbs: RunningKbs;
let cdh: TtrpcClient;
const procs = new ProcessGroup();
const kek = randomBytes(32);

/** Re-wraps each layer's private options (from the skopeo JWE) for the key provider, under `tag`. */
async function rewrapForKeyProvider(repo: string, tag: string, kid: string, rsaKey: string): Promise<void> {
  const mres = await httpRaw('GET', `${reg.url}/v2/${repo}/manifests/v1`, { accept: 'application/vnd.oci.image.manifest.v1+json' });
  const manifest = JSON.parse(mres.body.toString()) as { layers: { annotations: Record<string, string> }[] };
  for (const l of manifest.layers) {
    const jwe = JSON.parse(Buffer.from(l.annotations[ENC_KEYS_JWE] ?? '', 'base64').toString()) as Parameters<typeof decryptJwe>[0];
    const opts = decryptJwe(jwe, [loadPrivateKey(await readFile(rsaKey))]).plaintext as Buffer;
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', kek, iv);
    const wrapped = Buffer.concat([c.update(opts), c.final(), c.getAuthTag()]);
    delete l.annotations[ENC_KEYS_JWE];
    l.annotations[`${ENC_KEYS_PROVIDER}attestation-agent`] = Buffer.from(JSON.stringify({ kid, wrapped_data: wrapped.toString('base64'), iv: iv.toString('base64'), wrap_type: 'A256GCM' })).toString('base64');
  }
  await pushManifest(reg, repo, tag, Buffer.from(JSON.stringify(manifest)), 'application/vnd.oci.image.manifest.v1+json');
}

before(async () => {
  ({ dir, cleanup } = await tempDir('kbs-image-'));
  const skopeo = requireTool('skopeo');
  reg = await startRegistry();
  execFileSync('openssl', ['genrsa', '-out', path.join(dir, 'rsa.pem'), '2048'], { stdio: 'ignore' });
  execFileSync('openssl', ['rsa', '-in', path.join(dir, 'rsa.pem'), '-pubout', '-out', path.join(dir, 'rsa.pub.pem')], { stdio: 'ignore' });
  writeOciLayout(path.join(dir, 'layout'), 'v1', {
    config: { Cmd: ['/bin/app'] },
    layers: [
      { tar: buildTar([{ path: 'bin/', type: 'dir' }, { path: 'bin/app', data: '#!/bin/sh\necho hi\n', mode: 0o755 }]) },
      { tar: buildTar([{ path: 'secret.txt', data: 'decrypted in the guest' }]) },
    ],
  });
  execFileSync(skopeo, ['copy', '--quiet', '--dest-tls-verify=false', '--encryption-key', `jwe:${path.join(dir, 'rsa.pub.pem')}`, `oci:${path.join(dir, 'layout')}:v1`, `docker://${reg.host}/enc/app:v1`]);
  await rewrapForKeyProvider('enc/app', 'kp', 'kbs:///default/image-kek/1', path.join(dir, 'rsa.pem'));
  await rewrapForKeyProvider('enc/app', 'kp-missing', 'kbs:///default/image-kek/missing', path.join(dir, 'rsa.pem'));

  // The same encrypted image under a repository the image security policy rejects.
  execFileSync(skopeo, ['copy', '--quiet', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${reg.host}/enc/app:kp`, `docker://${reg.host}/enc/rejected:kp`]);

  kbs = await startKbs(dir);
  const policy = { default: [{ type: 'insecureAcceptAnything' }], transports: { docker: { [`${reg.host}/enc/rejected`]: [{ type: 'reject' }] } } };
  await writeFile(path.join(dir, 'policy.json'), JSON.stringify(policy));
  const setPolicy = await kbsCli(['--url', kbs.url, '--admin-key', kbs.adminKey, 'set-resource', '--path', 'default/security-policy/test', '--file', path.join(dir, 'policy.json')]);
  assert.equal(setPolicy.code, 0, setPolicy.stderr);
  await writeFile(path.join(dir, 'kek.bin'), kek);
  const set = await kbsCli(['--url', kbs.url, '--admin-key', kbs.adminKey, 'set-resource', '--path', 'default/image-kek/1', '--file', path.join(dir, 'kek.bin')]);
  assert.equal(set.code, 0, set.stderr);

  await writeFile(path.join(dir, 'aa.toml'), `[token_configs.kbs]\nurl = "${kbs.url}"\n`);
  const aaSock = `unix://${path.join(dir, 'aa.sock')}`;
  await procs.start(AA_BIN, ['-c', path.join(dir, 'aa.toml'), '--attestation-sock', aaSock, '--allow-sample'], /attestation agent ready/);
  await writeFile(
    path.join(dir, 'cdh.toml'),
    `socket = "unix://${path.join(dir, 'cdh.sock')}"\n[aa]\naa_socket = "${aaSock}"\n[kbc]\nname = "cc_kbc"\nurl = "${kbs.url}"\n[image]\nwork_dir = "${path.join(dir, 'image-rs')}"\nimage_security_policy_uri = "kbs:///default/security-policy/test"\n[[image.registry_config.registry]]\nlocation = "${reg.host}"\ninsecure = true\n`,
  );
  await procs.start(CDH_BIN, ['-c', path.join(dir, 'cdh.toml')], /confidential data hub ready/);
  cdh = await TtrpcClient.connect(`unix://${path.join(dir, 'cdh.sock')}`);
});

after(async () => {
  cdh?.close();
  await procs.stopAll();
  await kbs?.stop();
  await reg?.stop();
  await cleanup?.();
});

const pull = (image: string, bundle: string) =>
  cdh.request<{ image_url: string; bundle_path: string }, { manifest_digest: string }>(
    'api.ImagePullService', 'PullImage', cdhType('api.ImagePullRequest'), cdhType('api.ImagePullResponse'), { image_url: image, bundle_path: bundle }, { timeoutMs: 120_000 },
  );

test('CDH PullImage decrypts keyprovider-encrypted layers with the KEK the KBS releases (real registry, KBS, AA, CDH)', async () => {
  const bundle = path.join(dir, 'bundle');
  const r = await pull(`${reg.host}/enc/app:kp`, bundle);
  assert.match(r.manifest_digest, /^sha256:[0-9a-f]{64}$/);
  assert.equal(await readFile(path.join(bundle, 'rootfs', 'secret.txt'), 'utf8'), 'decrypted in the guest');
  assert.equal(await readFile(path.join(bundle, 'rootfs', 'bin', 'app'), 'utf8'), '#!/bin/sh\necho hi\n');
  const spec = JSON.parse(await readFile(path.join(bundle, 'config.json'), 'utf8')) as { process: { args: string[] } };
  assert.deepEqual(spec.process.args, ['/bin/app']);
});

test('CDH PullImage fails cleanly when the KBS has no key for the layer (nothing unpacked)', async () => {
  const bundle = path.join(dir, 'bundle-missing');
  await assert.rejects(pull(`${reg.host}/enc/app:kp-missing`, bundle), (e) => {
    assert.equal((e as { code?: string }).code, 'IMG_DECRYPT_FAILED');
    assert.match((e as Error).message, /provider:attestation-agent \(Resource kbs:\/\/\/default\/image-kek\/missing not found in the KBS\)/);
    return true;
  });
  await assert.rejects(readFile(path.join(bundle, 'rootfs', 'secret.txt')), { code: 'ENOENT' });
});

test('CDH PullImage enforces the image security policy it fetched from the KBS (reject scope)', async () => {
  const bundle = path.join(dir, 'bundle-rejected');
  await assert.rejects(pull(`${reg.host}/enc/rejected:kp`, bundle), (e) => {
    assert.match((e as { code?: string }).code ?? '', /^IMG_/);
    assert.match((e as Error).message, /reject/i);
    return true;
  });
  await assert.rejects(readFile(path.join(bundle, 'rootfs', 'secret.txt')), { code: 'ENOENT' });
});
