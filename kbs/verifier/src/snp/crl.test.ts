import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { constants, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { sharedDir, tempDir } from '@kata-cc/testing';
import { parseCrl, type Certificate } from '../common/x509.js';
import { checkArkCrl } from './crl.js';
import { SnpVerifier } from './snp-verifier.js';
import { vendorChain } from './vek.js';

const DAY = 86_400_000;
const now = new Date();

let tmp: { dir: string; cleanup: () => Promise<void> };
let server: Server | undefined;
before(async () => {
  tmp = await tempDir('kcc-snp-crl-');
});
after(async () => {
  server?.close();
  await tmp.cleanup();
});

// Minimal DER writer: enough for an X.509 v2 CRL signed with RSASSA-PSS (AMD's ARK CRL shape).
const tlv = (tag: number, body: Buffer): Buffer => {
  const n = body.length;
  const len = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, body]);
};
const seq = (...p: Buffer[]): Buffer => tlv(0x30, Buffer.concat(p));
const int = (hex: string): Buffer => {
  let b = Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
  if (b[0]! & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return tlv(0x02, b);
};
const oid = (s: string): Buffer => {
  const [a, b, ...rest] = s.split('.').map(Number);
  const out = [a! * 40 + b!];
  for (const v of rest) {
    const bytes = [v & 0x7f];
    for (let x = v >> 7; x > 0; x >>= 7) bytes.unshift((x & 0x7f) | 0x80);
    out.push(...bytes);
  }
  return tlv(0x06, Buffer.from(out));
};
const utc = (d: Date): Buffer => tlv(0x17, Buffer.from(`${d.toISOString().slice(2, 19).replace(/[-:T]/g, '')}Z`));
const name = (cn: string): Buffer => seq(tlv(0x31, seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from(cn)))));
const sha384 = seq(oid('2.16.840.1.101.3.4.2.2'), tlv(0x05, Buffer.alloc(0)));
const PSS_ALG = seq(oid('1.2.840.113549.1.1.10'), seq(tlv(0xa0, sha384), tlv(0xa1, seq(oid('1.2.840.113549.1.1.8'), sha384)), tlv(0xa2, int('30'))));

function crl(issuer: Buffer, key: KeyObject, revoked: string[], thisUpdate = new Date(now.getTime() - DAY), nextUpdate = new Date(now.getTime() + DAY)): Buffer {
  const entries = revoked.length === 0 ? [] : [seq(...revoked.map((r) => seq(int(r), utc(thisUpdate))))];
  const tbs = seq(int('01'), PSS_ALG, issuer, utc(thisUpdate), utc(nextUpdate), ...entries);
  const sig = sign('sha384', tbs, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 48 });
  return seq(tbs, PSS_ALG, tlv(0x03, Buffer.concat([Buffer.from([0]), sig])));
}

const rsa = (): { publicKey: KeyObject; privateKey: KeyObject } => generateKeyPairSync('rsa', { modulusLength: 2048 });

test('sample RSA-PSS ARK CRL (sample CA): signature, window and a revoked ASK each decide', () => {
  const keys = rsa();
  const issuer = name('ARK-Sample');
  // checkArkCrl reads subjectDer/publicKey of the ARK and serialHex/subject of the chain.
  const ark = { subjectDer: new Uint8Array(issuer), publicKey: keys.publicKey, subject: 'CN=ARK-Sample' } as unknown as Certificate;
  const ask = { serialHex: '0a0b', subject: 'CN=SEV-Sample' } as unknown as Certificate;
  checkArkCrl(parseCrl(crl(issuer, keys.privateKey, ['77'])), ark, [ask], now);
  assert.throws(() => checkArkCrl(parseCrl(crl(issuer, keys.privateKey, ['77', '0a0b'])), ark, [ask], now), { code: 'VERIFIER_SNP_CERT_REVOKED' });
  assert.throws(() => checkArkCrl(parseCrl(crl(issuer, keys.privateKey, [], new Date(now.getTime() - 3 * DAY), new Date(now.getTime() - DAY))), ark, [ask], now), { code: 'VERIFIER_SNP_CRL_EXPIRED' });
  assert.throws(() => checkArkCrl(parseCrl(crl(issuer, rsa().privateKey, [])), ark, [ask], now), { code: 'VERIFIER_SNP_CRL_SIGNATURE' });
  assert.throws(() => checkArkCrl(parseCrl(crl(name('Other'), keys.privateKey, [])), ark, [ask], now), { code: 'VERIFIER_SNP_CRL_SIGNATURE' });
});

const E2E = (): string => readFileSync(sharedDir('vectors', 'trustee/attestation-service/tests/e2e/evidence.json'), 'utf8');

test('real Genoa evidence: a CRL naming the real ARK but not signed by it is refused; none at hand is skipped or, when required, refused', async () => {
  const realArk = vendorChain('Genoa').ark;
  const forged = crl(Buffer.from(realArk.subjectDer), rsa().privateKey, []);
  const f = path.join(tmp.dir, 'forged.crl');
  writeFileSync(f, forged);
  await assert.rejects(new SnpVerifier({ arkCrls: [f] }).inspect(E2E(), {}), { code: 'VERIFIER_SNP_CRL_SIGNATURE' });
  const plain = await new SnpVerifier().inspect(E2E(), {});
  assert.ok(plain.skipped.includes('ark_crl'));
  const unrelated = path.join(tmp.dir, 'unrelated.crl');
  writeFileSync(unrelated, crl(name('ARK-Sample'), rsa().privateKey, []));
  await assert.rejects(new SnpVerifier({ arkCrls: [unrelated], requireArkCrl: true }).inspect(E2E(), {}), { code: 'VERIFIER_SNP_CRL_MISSING' });
});

test('KDS: the CRL is fetched from <url>/vcek/v1/Genoa/crl; one not signed by the ARK is refused and not cached', async () => {
  const realArk = vendorChain('Genoa').ark;
  const body = crl(Buffer.from(realArk.subjectDer), rsa().privateKey, []);
  const paths: string[] = [];
  server = createServer((req, res) => {
    paths.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'application/pkix-crl' }).end(body);
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const store = path.join(tmp.dir, 'store');
  await assert.rejects(new SnpVerifier({ kdsUrl: `http://127.0.0.1:${port}`, vcekStoreDir: store }).inspect(E2E(), {}), { code: 'VERIFIER_SNP_CRL_SIGNATURE' });
  assert.deepEqual(paths, ['/vcek/v1/Genoa/crl']);
  assert.equal(existsSync(path.join(store, 'crl', 'Genoa_vcek.crl')), false);
  // An unreachable KDS: skipped (listed) by default, refused when the CRL is required.
  assert.ok((await new SnpVerifier({ kdsUrl: 'http://127.0.0.1:9' }).inspect(E2E(), {})).skipped.includes('ark_crl'));
  await assert.rejects(new SnpVerifier({ kdsUrl: 'http://127.0.0.1:9', requireArkCrl: true }).inspect(E2E(), {}), { code: 'VERIFIER_SNP_CRL_FETCH_FAILED' });
});
