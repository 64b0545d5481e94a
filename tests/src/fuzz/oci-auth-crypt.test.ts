/**
 * Fuzz: the parts of a pull a hostile registry controls besides documents and layers:
 * the auth challenge (WWW-Authenticate) and token answers, and the ocicrypt annotations of an
 * encrypted layer (pubopts, JWE recipients) that unwrapLayerKey reads before any decryption.
 * Every outcome is a pull/unwrap or an IMG_ KccError, in time.
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { generateKeyPairSync } from 'node:crypto';
import { rmSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { buildTar, imageBlobs, tempDir } from '@kata-cc/testing';
import { pullImage, unwrapLayerKey, type Descriptor } from '@kata-cc/image-rs';
import { expectKcc, fuzz, mutate, mutationArb, test, within } from './budget.js';
import { jsonMutant, type Json } from './json-mutant.js';

const tmp = await tempDir('fuzz-oci-auth-');
after(() => tmp.cleanup());

// ---- hostile registry with token auth ----
const seed = imageBlobs({ layers: [{ tar: buildTar([{ path: 'f', type: 'file', data: 'x' }]), compression: 'gzip' }] });
let challenge = '';
let tokenStatus = 200;
let tokenBody: Uint8Array = new Uint8Array(Buffer.from('{"token":"t"}'));
let registry: Server;
let host = '';
before(async () => {
  registry = createServer((req, res) => {
    const u = req.url ?? '';
    if (u.startsWith('/token')) {
      res.writeHead(tokenStatus, { 'content-type': 'application/json' }).end(Buffer.from(tokenBody));
      return;
    }
    if (req.headers.authorization === undefined) {
      res.writeHead(401, { 'www-authenticate': challenge, 'content-type': 'application/json' }).end('{"errors":[{"code":"UNAUTHORIZED"}]}');
      return;
    }
    if (u.includes('/manifests/')) {
      res.writeHead(200, { 'content-type': seed.mediaType, 'content-length': String(seed.manifest.length) }).end(seed.manifest);
      return;
    }
    const d = decodeURIComponent(u.split('/blobs/')[1] ?? '');
    const b = seed.blobs.get(d);
    if (b) res.writeHead(200, { 'content-length': String(b.length) }).end(b);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => registry.listen(0, '127.0.0.1', r));
  const a = registry.address();
  host = `127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
});
after(async () => {
  registry.closeAllConnections();
  await new Promise<void>((r) => registry.close(() => r()));
});

let n = 0;
async function pull(): Promise<string> {
  const dest = path.join(tmp.dir, String(n++));
  try {
    await within(15_000, 'pullImage', pullImage(`${host}/fuzz/img:latest`, { dest, insecureRegistries: [host], platform: 'linux/amd64', auth: { auths: { [host]: { auth: Buffer.from('u:p').toString('base64') } } } }));
    return 'pulled';
  } catch (e) {
    return expectKcc(e, 'IMG_', 'pullImage').code;
  } finally {
    rmSync(dest, { recursive: true, force: true });
  }
}

test('fuzz: WWW-Authenticate challenges and token server answers', async () => {
  const good = () => `Bearer realm="http://${host}/token",service="fuzz",scope="repository:fuzz/img:pull"`;
  challenge = good();
  tokenStatus = 200;
  assert.equal(await pull(), 'pulled');
  const header = fc.oneof(
    fc.constant('').map(() => good()),
    fc.string({ maxLength: 120 }),
    fc.constantFrom('Basic realm="x"', 'Bearer', 'Bearer realm=', 'Bearer realm="ftp://x/"', 'Bearer realm="http://[::1"', 'Negotiate, Bearer realm="http://127.0.0.1:1/t"', `Bearer ${'a=a '.repeat(2000)}!`, `Bearer realm="${'\\'.repeat(3000)}`),
    mutationArb(120).map((ms) => Buffer.from(mutate(new Uint8Array(Buffer.from(good())), ms)).toString('latin1').replace(/[\r\n\0]/g, ' ')),
  );
  const body = fc.oneof(jsonMutant({ token: 't', access_token: 'a', expires_in: 60 }), fc.constantFrom('null', '[]', '"t"', '{"token":null}', '{"expires_in":-1,"token":"t"}').map((s) => new Uint8Array(Buffer.from(s))));
  await fuzz('image-rs/registry auth (challenge, token)', [header, body, fc.constantFrom(200, 200, 200, 400, 401, 404, 500)], async (h, b, s) => {
    challenge = h.replace(/[^\t\x20-\x7e]/g, ' ');
    tokenBody = b;
    tokenStatus = s;
    return pull();
  }, { runs: 200, seconds: 4 });
});

// ---- ocicrypt annotations ----
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const b64 = (v: unknown): string => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64');
const pubopts = { cipher: 'AES_256_CTR_HMAC_SHA256', hmac: Buffer.alloc(32).toString('base64'), cipheroptions: {} };
const jwe = {
  protected: Buffer.from('{"enc":"A256GCM"}').toString('base64url'),
  recipients: [
    { header: { alg: 'RSA-OAEP' }, encrypted_key: Buffer.alloc(256, 1).toString('base64url') },
    { header: { alg: 'ECDH-ES+A256KW', epk: { kty: 'EC', crv: 'P-256', x: 'AA', y: 'AA' } }, encrypted_key: 'AAAA' },
  ],
  iv: 'AAAAAAAAAAAAAAAA', ciphertext: 'AAAA', tag: 'AAAAAAAAAAAAAAAAAAAAAA',
};

test('fuzz: ocicrypt annotations of an encrypted layer (pubopts, JWE recipients, providers)', async () => {
  const text = (b: Uint8Array): string => Buffer.from(b).toString('utf8');
  await fuzz('image-rs/unwrapLayerKey(annotations)', [jsonMutant(pubopts as Json), jsonMutant(jwe as unknown as Json), fc.boolean(), fc.boolean()], async (p, j, twoParts, provider) => {
    const desc: Descriptor = {
      mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip+encrypted', digest: `sha256:${'1'.repeat(64)}`, size: 10,
      annotations: {
        'org.opencontainers.image.enc.pubopts': b64(text(p)),
        'org.opencontainers.image.enc.keys.jwe': twoParts ? `${b64(text(j))},${b64(jwe)}` : b64(text(j)),
        ...(provider ? { 'org.opencontainers.image.enc.keys.provider.attestation-agent': b64('{"kid":"kbs:///a/b/c"}') } : {}),
      },
    };
    try {
      await within(5000, 'unwrapLayerKey', unwrapLayerKey(desc, { privateKeys: [rsa.privateKey, ec.privateKey] }));
      return 'unwrapped';
    } catch (e) {
      return expectKcc(e, 'IMG_', 'unwrapLayerKey').code;
    }
  }, { runs: 400, seconds: 3 });
});
