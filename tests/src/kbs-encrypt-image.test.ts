/**
 * `kbs-cli encrypt-image` against real peers: a real registry (plain, TLS + htpasswd, token
 * auth), @kata-cc/image-rs pulling and decrypting through a keyprovider that unwraps with the
 * KEK (what the CDH does once the KBS released it), and Debian's skopeo (ocicrypt) decrypting
 * the JWE-recipient variant: proof that the layer cipher and options are ocicrypt's.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createDecipheriv, createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pullImage, type KeyUnwrapper } from '@kata-cc/image-rs';
import { buildTar, busyboxImage, httpRaw, repoRoot, requireTool, startRegistry, writeOciLayout, type PushedImage, type TestRegistry } from '@kata-cc/testing';

const CLI = path.join(repoRoot(), 'kbs/cli/bin/kbs-cli.js');
const COCO = 'org.opencontainers.image.enc.keys.provider.attestation-agent';
const OCI_M = 'application/vnd.oci.image.manifest.v1+json';
let dir: string;
let plain: TestRegistry;
let tls: TestRegistry;
let token: TestRegistry;
let src: PushedImage;

function kbsCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    c.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    c.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** The CDH's role in the test: unwrap the A256GCM annotation with the KEK the KBS would release. */
function kekUnwrapper(kek: Buffer, kids: string[]): KeyUnwrapper {
  return {
    unwrapKey: async ({ provider, annotation }) => {
      assert.equal(provider, 'attestation-agent');
      // ocicrypt hands the keyprovider the annotation value base64-decoded: the JSON itself.
      const a = JSON.parse(Buffer.from(annotation).toString()) as { kid: string; wrapped_data: string; iv: string; wrap_type: string };
      assert.equal(a.wrap_type, 'A256GCM');
      kids.push(a.kid);
      const w = Buffer.from(a.wrapped_data, 'base64');
      const d = createDecipheriv('aes-256-gcm', kek, Buffer.from(a.iv, 'base64'));
      d.setAuthTag(w.subarray(-16));
      return Buffer.concat([d.update(w.subarray(0, -16)), d.final()]);
    },
  };
}

async function manifestOf(reg: TestRegistry, repo: string, tag: string, auth?: string): Promise<{ layers: { mediaType: string; digest: string; size: number; annotations?: Record<string, string> }[] }> {
  const r = await httpRaw('GET', `${reg.url}/v2/${repo}/manifests/${tag}`, { accept: OCI_M, ...(auth ? { authorization: auth } : {}) }, undefined, reg.caPem);
  assert.equal(r.status, 200);
  return JSON.parse(r.body.toString()) as Awaited<ReturnType<typeof manifestOf>>;
}

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kcc-encimg-'));
  [plain, tls, token] = await Promise.all([startRegistry(), startRegistry({ mode: 'tls' }), startRegistry({ mode: 'token' })]);
  const bb = await busyboxImage(['cat', '/secret.txt']);
  src = writeOciLayout(path.join(dir, 'src'), 'v1', { ...bb, layers: [...bb.layers, { tar: buildTar([{ path: 'secret.txt', data: 'only for attested guests\n' }]) }] });
  execFileSync('openssl', ['genrsa', '-out', path.join(dir, 'rsa.pem'), '2048'], { stdio: 'ignore' });
  execFileSync('openssl', ['rsa', '-in', path.join(dir, 'rsa.pem'), '-pubout', '-out', path.join(dir, 'rsa.pub')], { stdio: 'ignore' });
  // PKCS#8: skopeo 1.9's ocicrypt does not read SEC1 "EC PRIVATE KEY" PEMs (not even for its own images).
  execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path.join(dir, 'ec.pem')], { stdio: 'ignore' });
  execFileSync('openssl', ['ec', '-in', path.join(dir, 'ec.pem'), '-pubout', '-out', path.join(dir, 'ec.pub')], { stdio: 'ignore' });
});

after(async () => {
  await Promise.all([plain?.stop(), tls?.stop(), token?.stop()]);
  await rm(dir, { recursive: true, force: true });
});

test('encrypt-image pushes a CoCo-keyprovider image that image-rs pulls and decrypts with the KEK', async () => {
  const kekFile = path.join(dir, 'kek.bin');
  const r = await kbsCli(['encrypt-image', '--src', `oci:${dir}/src:v1`, '--dest', `docker://${plain.host}/enc/app:v1`, '--kid', 'kbs:///default/image-kek/app', '--key-file', kekFile, '--generate-key', '--dest-tls-verify=false']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(((await stat(kekFile)).mode & 0o777), 0o600);
  const kek = await readFile(kekFile);
  assert.equal(kek.length, 32);
  assert.doesNotMatch(r.stderr, new RegExp(kek.toString('base64').slice(0, 12).replace(/[+/]/g, '.')));
  const m = await manifestOf(plain, 'enc/app', 'v1');
  assert.equal(r.stdout.trim().length, 71);
  assert.equal(m.layers.length, 2);
  for (const [i, l] of m.layers.entries()) {
    assert.equal(l.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip+encrypted');
    assert.notEqual(l.digest, src.layers[i]?.digest);
    const pub = JSON.parse(Buffer.from(l.annotations?.['org.opencontainers.image.enc.pubopts'] ?? '', 'base64').toString()) as { cipher: string; hmac: string };
    assert.equal(pub.cipher, 'AES_256_CTR_HMAC_SHA256');
    assert.equal(Buffer.from(pub.hmac, 'base64').length, 32);
    assert.ok(l.annotations?.[COCO]);
  }
  const kids: string[] = [];
  const res = await pullImage(`${plain.host}/enc/app:v1`, { dest: path.join(dir, 'bundle1'), insecureRegistries: [plain.host], keyProvider: kekUnwrapper(kek, kids) });
  assert.equal(await readFile(path.join(res.rootfs, 'secret.txt'), 'utf8'), 'only for attested guests\n');
  assert.deepEqual(kids, ['kbs:///default/image-kek/app', 'kbs:///default/image-kek/app']);
  // Re-running with the existing key reuses it (no --generate-key needed).
  const again = await kbsCli(['encrypt-image', '--src', `oci:${dir}/src:v1`, '--dest', `docker://${plain.host}/enc/app:v2`, '--kid', 'default/image-kek/app', '--key-file', kekFile, '--insecure']);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(await readFile(kekFile), kek);
});

test('fault: a wrong KEK cannot open the layers (GCM tag), and nothing is unpacked', async () => {
  const kek = await readFile(path.join(dir, 'kek.bin'));
  const wrong = Buffer.from(kek);
  wrong[0] = (wrong[0] ?? 0) ^ 1;
  await assert.rejects(pullImage(`${plain.host}/enc/app:v1`, { dest: path.join(dir, 'bundle-wrong'), insecureRegistries: [plain.host], keyProvider: kekUnwrapper(wrong, []) }), /IMG_|decrypt|unwrap/i);
  await assert.rejects(stat(path.join(dir, 'bundle-wrong', 'rootfs', 'secret.txt')));
});

test('JWE recipients (RSA + EC) next to the KBS kid: Debian skopeo (ocicrypt) decrypts to the original layers', async () => {
  const skopeo = requireTool('skopeo');
  const r = await kbsCli(['encrypt-image', '--src', `oci:${dir}/src:v1`, '--dest', `docker://${plain.host}/enc/jwe:v1`, '--kid', 'kbs:///default/image-kek/app', '--key-file', path.join(dir, 'kek.bin'),
    '--recipient', `jwe:${dir}/rsa.pub`, `jwe:${dir}/ec.pub`, '--dest-tls-verify=false']);
  assert.equal(r.code, 0, r.stderr);
  for (const key of ['rsa.pem', 'ec.pem']) {
    const out = path.join(dir, `dec-${key}`);
    execFileSync(skopeo, ['copy', '--quiet', '--src-tls-verify=false', '--decryption-key', path.join(dir, key), `docker://${plain.host}/enc/jwe:v1`, `oci:${out}:x`]);
    const idx = JSON.parse(await readFile(path.join(out, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    const m = JSON.parse(await readFile(path.join(out, 'blobs/sha256', (idx.manifests[0]?.digest ?? '').slice(7)), 'utf8')) as { layers: { digest: string; mediaType: string }[] };
    assert.deepEqual(m.layers.map((l) => l.digest), src.layers.map((l) => l.digest), key);
    for (const l of m.layers) {
      const blob = await readFile(path.join(out, 'blobs/sha256', l.digest.slice(7)));
      assert.equal(`sha256:${createHash('sha256').update(blob).digest('hex')}`, l.digest);
    }
  }
  // skopeo without the key refuses: the layers really are encrypted.
  assert.throws(() => execFileSync(skopeo, ['copy', '--quiet', '--src-tls-verify=false', '--decryption-key', path.join(dir, 'kek.bin'), `docker://${plain.host}/enc/jwe:v1`, `oci:${dir}/nokey:x`], { stdio: 'pipe' }));
});

test('oci: destination with --encrypt-layer -1 encrypts only the last layer; image-rs reads it back after a skopeo push', async () => {
  const r = await kbsCli(['encrypt-image', '--src', `oci:${dir}/src:v1`, '--dest', `oci:${dir}/out:enc`, '--kid', 'kbs:///default/image-kek/app', '--key-file', path.join(dir, 'kek.bin'), '--encrypt-layer', '-1']);
  assert.equal(r.code, 0, r.stderr);
  execFileSync(requireTool('skopeo'), ['copy', '--quiet', '--dest-tls-verify=false', `oci:${dir}/out:enc`, `docker://${plain.host}/enc/partial:v1`]);
  const m = await manifestOf(plain, 'enc/partial', 'v1');
  assert.equal(m.layers[0]?.digest, src.layers[0]?.digest);
  assert.equal(m.layers[0]?.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
  assert.equal(m.layers[1]?.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip+encrypted');
  const kids: string[] = [];
  const res = await pullImage(`${plain.host}/enc/partial:v1`, { dest: path.join(dir, 'bundle2'), insecureRegistries: [plain.host], keyProvider: kekUnwrapper(await readFile(path.join(dir, 'kek.bin')), kids) });
  assert.equal(await readFile(path.join(res.rootfs, 'secret.txt'), 'utf8'), 'only for attested guests\n');
  assert.equal(kids.length, 1);
});

test('push to a TLS registry with htpasswd (--dest-creds, --dest-cert-dir) and to a token-auth registry', async () => {
  const certs = path.join(dir, 'certs');
  await mkdir(certs);
  await copyFile(tls.caFile ?? '', path.join(certs, 'ca.crt'));
  const base = ['encrypt-image', '--src', `oci:${dir}/src:v1`, '--kid', 'kbs:///default/image-kek/app', '--key-file', path.join(dir, 'kek.bin')];
  const ok = await kbsCli([...base, '--dest', `docker://${tls.host}/enc/tls:v1`, '--dest-creds', `${tls.user}:${tls.password}`, '--dest-cert-dir', certs]);
  assert.equal(ok.code, 0, ok.stderr);
  const basic = `Basic ${Buffer.from(`${tls.user}:${tls.password}`).toString('base64')}`;
  assert.equal((await manifestOf(tls, 'enc/tls', 'v1', basic)).layers.length, 2);

  const noCa = await kbsCli([...base, '--dest', `docker://${tls.host}/enc/tls:v2`, '--dest-creds', `${tls.user}:${tls.password}`]);
  assert.equal(noCa.code, 3);
  assert.match(noCa.stderr, /ENCIMG_REGISTRY_UNREACHABLE/);
  assert.match(noCa.stderr, /--dest-cert-dir/);

  const badCreds = await kbsCli([...base, '--dest', `docker://${tls.host}/enc/tls:v3`, '--dest-creds', `${tls.user}:wrong-password`, '--dest-cert-dir', certs]);
  assert.equal(badCreds.code, 4);
  assert.match(badCreds.stderr, /ENCIMG_REGISTRY_UNAUTHORIZED/);
  assert.doesNotMatch(badCreds.stderr, /wrong-password/);

  const tok = await kbsCli([...base, '--dest', `docker://${token.host}/enc/tok:v1`, '--dest-creds', `${token.user}:${token.password}`, '--insecure']);
  assert.equal(tok.code, 0, tok.stderr);
  assert.ok(token.tokenRequests.length > 0);
});

test('bad input: clear errors with stable codes, exit 2, nothing written', async () => {
  const short = path.join(dir, 'short.bin');
  await writeFile(short, Buffer.alloc(31));
  const cases: [string[], RegExp][] = [
    [['--kid', 'kbs:///default/k/1', '--key-file', short], /exactly 32 bytes.*ENCIMG_KEY_INVALID/],
    [['--kid', 'kbs:///default/k/1', '--key-file', path.join(dir, 'absent.bin')], /--generate-key.*ENCIMG_KEY_INVALID/],
    [['--kid', 'kbs:///../k/1', '--key-file', path.join(dir, 'kek.bin')], /KBC_INVALID_RESOURCE_URI/],
    [['--kid', 'kbs:///default/k/1', '--key-file', path.join(dir, 'kek.bin'), '--encrypt-layer', '5'], /ENCIMG_LAYER_INDEX/],
    [['--recipient', 'pgp:foo'], /ENCIMG_RECIPIENT_INVALID/],
    [[], /ENCIMG_USAGE/],
  ];
  for (const [extra, re] of cases) {
    const r = await kbsCli(['encrypt-image', '--src', `oci:${dir}/src:v1`, '--dest', `oci:${dir}/never:x`, ...extra]);
    assert.equal(r.code, 2, `${extra.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
  }
  const badSrc = await kbsCli(['encrypt-image', '--src', `oci:${dir}/src:nope`, '--dest', `oci:${dir}/never:x`, '--kid', 'default/k/1', '--key-file', path.join(dir, 'kek.bin')]);
  assert.equal(badSrc.code, 2);
  assert.match(badSrc.stderr, /no images tagged "nope" \(present: v1\).*ENCIMG_SOURCE_INVALID/);
  await assert.rejects(stat(path.join(dir, 'never')));
  await assert.rejects(stat(path.join(dir, 'absent.bin')));
});
