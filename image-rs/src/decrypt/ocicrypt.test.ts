import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import { PROTO_DIR } from '@kata-cc/protocols';
import { hasCode } from '@kata-cc/errors';
import { buildTar, httpRaw, pushManifest, requireTool, startRegistry, tempDir, writeOciLayout, type TestRegistry } from '@kata-cc/testing';
import { pullImage } from '../pull.js';
import { decryptJwe, type JweJson } from './jwe.js';
import { GrpcKeyProvider } from './grpc-keyprovider.js';
import { loadPrivateKey } from './keys.js';
import { ENC_KEYS_JWE, ENC_KEYS_PROVIDER, ENC_PUBOPTS } from './ocicrypt.js';

const skopeo = requireTool('skopeo');
const umoci = requireTool('umoci');
const tmp = await tempDir('img-enc-');
const k = (f: string): string => path.join(tmp.dir, f);
let reg: TestRegistry;
let server: grpc.Server | undefined;

function tree(root: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const name of readdirSync(path.join(root, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const p = path.join(root, r);
      const st = lstatSync(p);
      const kind = st.isDirectory() ? 'd' : st.isSymbolicLink() ? `l:${readlinkSync(p)}` : `f:${createHash('sha256').update(readFileSync(p)).digest('hex').slice(0, 16)}`;
      out.push(`${r} ${kind} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`);
      if (st.isDirectory()) walk(r);
    }
  };
  walk('');
  return out;
}

before(async () => {
  reg = await startRegistry();
  const ossl = (...a: string[]): void => void execFileSync('openssl', a, { stdio: 'ignore' });
  ossl('genrsa', '-out', k('rsa.pem'), '2048');
  ossl('rsa', '-in', k('rsa.pem'), '-pubout', '-out', k('rsa.pub.pem'));
  ossl('ecparam', '-genkey', '-name', 'prime256v1', '-noout', '-out', k('ec.pem'));
  ossl('ec', '-in', k('ec.pem'), '-pubout', '-out', k('ec.pub.pem'));
  ossl('pkcs8', '-topk8', '-nocrypt', '-in', k('ec.pem'), '-out', k('ec-pkcs8.pem'));
  ossl('genrsa', '-out', k('other.pem'), '2048');
  writeOciLayout(k('layout'), 'v1', {
    config: { Cmd: ['/bin/app'] },
    layers: [
      { tar: buildTar([{ path: 'bin/', type: 'dir' }, { path: 'bin/app', data: 'binary', mode: 0o755 }, { path: 'etc/conf', data: 'c=1', uid: 10, gid: 20 }]) },
      { tar: buildTar([{ path: 'etc/conf', data: 'c=2' }, { path: 'lnk', type: 'symlink', linkpath: 'bin/app' }, { path: 'secret.txt', data: 'top secret' }]) },
    ],
  });
  // umoci 0.4.7 cannot unpack zstd, so the zstd+encrypted case is checked against its plaintext only.
  writeOciLayout(k('layout-zstd'), 'v1', { layers: [{ tar: buildTar([{ path: 'z.txt', data: 'zstd secret' }]), compression: 'zstd' }] });
  // An UNCOMPRESSED source layer: skopeo 1.9 gzips it and then encrypts (…tar+gzip+encrypted).
  writeOciLayout(k('layout-tar'), 'v1', { layers: [{ tar: buildTar([{ path: 'plain.txt', data: 'was uncompressed' }]), compression: 'none' }] });
  const enc = (keys: string[], repo: string, layout = 'layout'): void => {
    execFileSync(skopeo, ['copy', '--quiet', '--dest-tls-verify=false', ...keys.flatMap((x) => ['--encryption-key', `jwe:${k(x)}`]), `oci:${k(layout)}:v1`, `docker://${reg.host}/${repo}:v1`]);
  };
  enc(['ec.pub.pem'], 'enc/zstd', 'layout-zstd');
  enc(['rsa.pub.pem'], 'enc/rsa');
  enc(['rsa.pub.pem'], 'enc/tar', 'layout-tar');
  enc(['ec.pub.pem'], 'enc/ec');
  enc(['rsa.pub.pem', 'ec.pub.pem'], 'enc/both');
});
after(async () => {
  server?.forceShutdown();
  await reg?.stop();
  await tmp.cleanup();
});

let n = 0;
async function ours(repo: string, keyFiles: string[], extra: Record<string, unknown> = {}): Promise<string> {
  const dest = k(`ours${n++}`);
  await pullImage(`${reg.host}/${repo}:v1`, { dest, insecureRegistries: [reg.host], decryptionKeys: keyFiles.map((f) => loadPrivateKey(readFileSync(k(f)), f)), ...extra });
  return path.join(dest, 'rootfs');
}

function reference(repo: string, keyFile: string): string {
  const out = k(`ref-${repo.replace('/', '-')}`);
  execFileSync(skopeo, ['copy', '--quiet', '--src-tls-verify=false', '--decryption-key', k(keyFile), `docker://${reg.host}/${repo}:v1`, `oci:${out}:v1`]);
  execFileSync(umoci, ['unpack', '--image', `${out}:v1`, `${out}-bundle`], { stdio: 'ignore' });
  return path.join(`${out}-bundle`, 'rootfs');
}

test('pullImage() decrypts skopeo jwe RSA images exactly like skopeo --decryption-key + umoci unpack', async () => {
  const mine = await ours('enc/rsa', ['rsa.pem']);
  assert.equal(readFileSync(path.join(mine, 'secret.txt'), 'utf8'), 'top secret');
  assert.deepEqual(tree(mine), tree(reference('enc/rsa', 'rsa.pem')));
});

test('pullImage() decrypts a layer skopeo compressed and encrypted in one copy (key options digest = diff_id)', async () => {
  const layout = k('raw-tar');
  execFileSync(skopeo, ['copy', '--quiet', '--src-tls-verify=false', `docker://${reg.host}/enc/tar:v1`, `oci:${layout}:v1`]);
  const blob = (d: string): Buffer => readFileSync(path.join(layout, 'blobs', ...d.split(':')));
  const index = JSON.parse(readFileSync(path.join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  const manifest = JSON.parse(blob(index.manifests[0]!.digest).toString()) as { config: { digest: string }; layers: { mediaType: string; annotations: Record<string, string> }[] };
  const layer = manifest.layers[0]!;
  assert.equal(layer.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip+encrypted');
  // The root cause, pinned: the wrapped options name the uncompressed source tar, not the gzip blob.
  const jwe = JSON.parse(Buffer.from(layer.annotations[ENC_KEYS_JWE]!, 'base64').toString()) as JweJson;
  const opts = JSON.parse((decryptJwe(jwe, [loadPrivateKey(readFileSync(k('rsa.pem')))]).plaintext as Buffer).toString()) as { digest: string };
  const config = JSON.parse(blob(manifest.config.digest).toString()) as { rootfs: { diff_ids: string[] } };
  assert.equal(opts.digest, config.rootfs.diff_ids[0]);
  const mine = await ours('enc/tar', ['rsa.pem']);
  assert.equal(readFileSync(path.join(mine, 'plain.txt'), 'utf8'), 'was uncompressed');
  assert.deepEqual(tree(mine), tree(reference('enc/tar', 'rsa.pem')));
});

test('pullImage() decrypts skopeo jwe EC images with SEC1 and PKCS#8 keys', async () => {
  const sec1 = await ours('enc/ec', ['ec.pem']);
  assert.deepEqual(tree(sec1), tree(reference('enc/ec', 'ec-pkcs8.pem')));
  assert.deepEqual(tree(await ours('enc/ec', ['ec-pkcs8.pem'])), tree(sec1));
  assert.equal(readFileSync(path.join(await ours('enc/zstd', ['ec.pem']), 'z.txt'), 'utf8'), 'zstd secret');
});

test('pullImage() opens a two-recipient image with either key', async () => {
  const a = await ours('enc/both', ['rsa.pem']);
  const b = await ours('enc/both', ['ec.pem']);
  assert.deepEqual(tree(a), tree(b));
  assert.equal(readFileSync(path.join(a, 'secret.txt'), 'utf8'), 'top secret');
});

test('pullImage() names the layer and each recipient tried when no key fits, and never leaks key bytes', async () => {
  await assert.rejects(ours('enc/both', ['other.pem']), (e) => {
    assert.ok(hasCode(e, 'IMG_DECRYPT_FAILED'));
    const msg = (e as Error).message;
    assert.match(msg, /Cannot decrypt layer sha256:[0-9a-f]{64}/);
    assert.match(msg, /jwe:RSA-OAEP \(RSA-OAEP unwrap failed: not the recipient key\)/);
    assert.match(msg, /jwe:ECDH-ES\+A256KW \(key is not EC\)/);
    assert.ok(!msg.includes('PRIVATE KEY'));
    return true;
  });
  await assert.rejects(ours('enc/rsa', []), (e) => hasCode(e, 'IMG_DECRYPT_NO_KEY') && /no private key configured/.test((e as Error).message));
});

test('pullImage() refuses an encrypted layer whose HMAC does not match (IMG_DECRYPT_HMAC_MISMATCH)', async () => {
  const mres = await httpRaw('GET', `${reg.url}/v2/enc/rsa/manifests/v1`, { accept: 'application/vnd.oci.image.manifest.v1+json' });
  const manifest = JSON.parse(mres.body.toString()) as { layers: { annotations: Record<string, string> }[] };
  const l = manifest.layers[0] as { annotations: Record<string, string> };
  const pub = JSON.parse(Buffer.from(l.annotations[ENC_PUBOPTS] ?? '', 'base64').toString()) as { hmac: string };
  const mac = Buffer.from(pub.hmac, 'base64');
  mac[0] = (mac[0] ?? 0) ^ 1;
  l.annotations[ENC_PUBOPTS] = Buffer.from(JSON.stringify({ ...pub, hmac: mac.toString('base64') })).toString('base64');
  await pushManifest(reg, 'enc/rsa', 'badmac', Buffer.from(JSON.stringify(manifest)), 'application/vnd.oci.image.manifest.v1+json');
  const dest = k('badmac');
  await assert.rejects(
    pullImage(`${reg.host}/enc/rsa:badmac`, { dest, insecureRegistries: [reg.host], decryptionKeys: [loadPrivateKey(readFileSync(k('rsa.pem')))] }),
    (e) => hasCode(e, 'IMG_DECRYPT_HMAC_MISMATCH'),
  );
  assert.deepEqual(readdirSync(dest), []);
});

test('pullImage() unwraps layer keys through the keyprovider gRPC protocol (sample CDH-style provider)', async () => {
  // Re-wrap the rsa image's layer options for a keyprovider recipient, as coco-keyprovider does.
  const kek = randomBytes(32);
  const mres = await httpRaw('GET', `${reg.url}/v2/enc/rsa/manifests/v1`, { accept: 'application/vnd.oci.image.manifest.v1+json' });
  const manifest = JSON.parse(mres.body.toString()) as { layers: { annotations: Record<string, string> }[] };
  for (const l of manifest.layers) {
    const jwe = JSON.parse(Buffer.from(l.annotations[ENC_KEYS_JWE] ?? '', 'base64').toString()) as JweJson;
    const opts = decryptJwe(jwe, [loadPrivateKey(readFileSync(k('rsa.pem')))]).plaintext as Buffer;
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', kek, iv);
    const wrapped = Buffer.concat([c.update(opts), c.final(), c.getAuthTag()]);
    const packet = { kid: 'kbs:///default/key/1', wrapped_data: wrapped.toString('base64'), iv: iv.toString('base64'), wrap_type: 'A256GCM' };
    delete l.annotations[ENC_KEYS_JWE];
    l.annotations[`${ENC_KEYS_PROVIDER}attestation-agent`] = Buffer.from(JSON.stringify(packet)).toString('base64');
  }
  await pushManifest(reg, 'enc/rsa', 'kp', Buffer.from(JSON.stringify(manifest)), 'application/vnd.oci.image.manifest.v1+json');

  const def = protoLoader.loadSync(path.join(PROTO_DIR, 'keyprovider/keyprovider.proto'), { keepCase: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { keyprovider: { KeyProviderService: { service: grpc.ServiceDefinition } } };
  const seen: unknown[] = [];
  server = new grpc.Server();
  server.addService(pkg.keyprovider.KeyProviderService.service, {
    UnWrapKey: (call: { request: { KeyProviderKeyWrapProtocolInput: Buffer } }, cb: grpc.sendUnaryData<unknown>) => {
      const input = JSON.parse(call.request.KeyProviderKeyWrapProtocolInput.toString()) as { op: string; keyunwrapparams: { annotation: string; dc: unknown } };
      seen.push(input.op, input.keyunwrapparams.dc);
      const p = JSON.parse(Buffer.from(input.keyunwrapparams.annotation, 'base64').toString()) as { wrapped_data: string; iv: string };
      const w = Buffer.from(p.wrapped_data, 'base64');
      const d = createDecipheriv('aes-256-gcm', kek, Buffer.from(p.iv, 'base64'));
      d.setAuthTag(w.subarray(w.length - 16));
      const opts = Buffer.concat([d.update(w.subarray(0, w.length - 16)), d.final()]);
      // Rust ocicrypt emits optsdata as a number array; accept that form.
      cb(null, { KeyProviderKeyWrapProtocolOutput: Buffer.from(JSON.stringify({ keyunwrapresults: { optsdata: [...opts] } })) });
    },
    WrapKey: (_c: unknown, cb: grpc.sendUnaryData<unknown>) => cb({ code: grpc.status.UNIMPLEMENTED }),
  });
  const port = await new Promise<number>((res, rej) => server?.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  const kp = new GrpcKeyProvider(`127.0.0.1:${port}`);
  try {
    const dest = k('kp');
    await pullImage(`${reg.host}/enc/rsa:kp`, { dest, insecureRegistries: [reg.host], keyProvider: kp });
    assert.equal(readFileSync(path.join(dest, 'rootfs/secret.txt'), 'utf8'), 'top secret');
    assert.equal(seen[0], 'keyunwrap');
    assert.deepEqual(seen[1], { Parameters: { 'attestation-agent': [] } });
    await assert.rejects(pullImage(`${reg.host}/enc/rsa:kp`, { dest: k('kp2'), insecureRegistries: [reg.host] }), (e) => hasCode(e, 'IMG_DECRYPT_NO_KEY') && /provider:attestation-agent/.test((e as Error).message));
    // Same service on a unix socket, as the CDH listens.
    await new Promise<number>((res, rej) => server?.bindAsync(`unix://${k('kp.sock')}`, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
    const unixKp = new GrpcKeyProvider(`unix://${k('kp.sock')}`);
    try {
      await pullImage(`${reg.host}/enc/rsa:kp`, { dest: k('kp3'), insecureRegistries: [reg.host], keyProvider: unixKp });
      assert.equal(readFileSync(k('kp3/rootfs/secret.txt'), 'utf8'), 'top secret');
    } finally {
      unixKp.close();
    }
    // A provider that is down: the error names the provider and the address.
    const down = new GrpcKeyProvider(`unix://${k('nobody.sock')}`, 2000);
    try {
      await assert.rejects(pullImage(`${reg.host}/enc/rsa:kp`, { dest: k('kp4'), insecureRegistries: [reg.host], keyProvider: down }), (e) => hasCode(e, 'IMG_DECRYPT_FAILED') && /provider:attestation-agent \(Key provider unix:/.test((e as Error).message));
    } finally {
      down.close();
    }
  } finally {
    kp.close();
  }
});
