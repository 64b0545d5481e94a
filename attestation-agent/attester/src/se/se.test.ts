import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, createPrivateKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { constants } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot, requireTool, tempDir } from '@kata-cc/testing';
import { createAttester, detectTee } from '../registry.js';
import { fakeUltravisor, hostKeyCoords } from './fake-uv.js';
import { SeAttester, detectSe, parseSeRequest } from './se.js';
import { nativeUv, uvAttest, type UvIoctl } from './uv.js';

let tmp: { dir: string; cleanup: () => Promise<void> };
before(async () => { tmp = await tempDir('kcc-se-attester-'); });
after(async () => { await tmp.cleanup(); });

const TAGS = Buffer.from(Array.from({ length: 208 }, (_, i) => (i * 7) & 0xff));
/** A request shaped like the KBS's SE challenge (the ARCB is opaque to the attester). */
function request(arcb: Buffer, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ request_blob: arcb.toString('base64'), measurement_size: 64, additional_size: 64, encr_measurement_key: 'AAEC', encr_request_nonce: 'AwQF', image_hdr_tags: TAGS.toString('base64'), ...extra });
}

test('detectSe: prot_virt_guest = 1 and /dev/uv (fake tree); detectTee orders se after snp and before tpm', async () => {
  const root = path.join(tmp.dir, 'se-guest');
  await mkdir(path.join(root, 'sys/firmware/uv'), { recursive: true });
  await mkdir(path.join(root, 'dev'), { recursive: true });
  await writeFile(path.join(root, 'dev/uv'), '');
  assert.equal(await detectSe({ root }), false, 'an s390x host has /dev/uv too');
  await writeFile(path.join(root, 'sys/firmware/uv/prot_virt_guest'), '0\n');
  assert.equal(await detectSe({ root }), false);
  await writeFile(path.join(root, 'sys/firmware/uv/prot_virt_guest'), '1\n');
  assert.equal(await detectSe({ root }), true);
  assert.equal(await detectTee({}, { root, env: {} }), 'se');
  // Both SNP and SE "present": snp comes first in the order; a TPM comes after se.
  await mkdir(path.join(root, 'sys/devices/platform/sev-guest'), { recursive: true });
  assert.equal(await detectTee({}, { root, env: {} }), 'snp');
  assert.equal(await detectTee({}, { root: path.join(root, 'none'), env: { AA_TPM_DEVICE: 'tcp://127.0.0.1:1' } }), 'tpm');
  assert.equal(createAttester('se').tee, 'se');
});

test('reportDataForChallenge injects runtime_data_digest (trustee field order); malformed requests and long digests are refused', async () => {
  const a = new SeAttester({}, {});
  const digest = randomBytes(64);
  const out = JSON.parse(Buffer.from(await a.reportDataForChallenge(request(Buffer.alloc(300, 1)), digest)).toString()) as Record<string, unknown>;
  assert.deepEqual(Object.keys(out), ['request_blob', 'measurement_size', 'additional_size', 'encr_measurement_key', 'encr_request_nonce', 'image_hdr_tags', 'runtime_data_digest']);
  assert.equal(out['runtime_data_digest'], digest.toString('base64'));
  await assert.rejects(a.reportDataForChallenge('not json', digest), { code: 'ATTESTER_INVALID_ARGUMENT' });
  await assert.rejects(a.reportDataForChallenge(request(Buffer.alloc(4), { image_hdr_tags: 'AAAA' }), digest), { code: 'ATTESTER_INVALID_ARGUMENT', message: /208 bytes/ });
  await assert.rejects(a.reportDataForChallenge(request(Buffer.alloc(4), { measurement_size: -1 }), digest), { code: 'ATTESTER_INVALID_ARGUMENT', message: /u32/ });
  await assert.rejects(a.reportDataForChallenge(request(Buffer.alloc(4), { request_blob: 'a*b=' }), digest), { code: 'ATTESTER_INVALID_ARGUMENT', message: /base64/ });
  await assert.rejects(a.reportDataForChallenge(request(Buffer.alloc(4)), randomBytes(65)), { code: 'ATTESTER_REPORT_DATA_TOO_LONG' });
  await assert.rejects(a.getEvidence(Buffer.from(request(Buffer.alloc(4)))), { code: 'ATTESTER_INVALID_ARGUMENT', message: /runtime_data_digest" is missing/ });
  assert.equal(parseSeRequest(request(Buffer.alloc(4), { runtime_data_digest: null })).runtimeDigest, undefined);
});

test('uvAttest through a FAKE Ultravisor seam: sizes checked before the ioctl, UV rc and errno mapped, user data zero-padded', async () => {
  const seen: { user: Buffer; measLen: number; addLen: number }[] = [];
  const answering = (o: { errno?: number; uvRc?: number; addDataLen?: number }): UvIoctl => ({
    async attest(_d, _arcb, meas, add, user, uid) {
      seen.push({ user: Buffer.from(user), measLen: meas.length, addLen: add.length });
      meas.fill(0xaa);
      uid.fill(0x11);
      return { stage: 'ioctl', errno: o.errno ?? 0, uvRc: o.uvRc ?? 1, uvRrc: 0x10, addDataLen: o.addDataLen ?? add.length };
    },
  });
  const req = (extra: Record<string, unknown> = {}): Uint8Array => Buffer.from(request(Buffer.alloc(400, 3), { runtime_data_digest: Buffer.alloc(48, 9).toString('base64'), ...extra }));
  const ev = await new SeAttester({ uv: answering({}) }).getEvidence(req());
  assert.deepEqual(seen.at(-1), { user: Buffer.concat([Buffer.alloc(48, 9), Buffer.alloc(16)]), measLen: 64, addLen: 64 });
  assert.deepEqual(ev, { measurement: Buffer.alloc(64, 0xaa).toString('base64'), additional_data: Buffer.alloc(64).toString('base64'), user_data: seen.at(-1)!.user.toString('base64'), cuid: Buffer.alloc(16, 0x11).toString('base64'), encr_measurement_key: 'AAEC', encr_request_nonce: 'AwQF', image_hdr_tags: TAGS.toString('base64') });
  await assert.rejects(new SeAttester({ uv: answering({ uvRc: 0x0102 }) }).getEvidence(req()), { code: 'ATTESTER_FIRMWARE_ERROR', message: /rc 0x0102, rrc 0x0010/ });
  await assert.rejects(new SeAttester({ uv: answering({ errno: constants.errno.ENOTTY }) }).getEvidence(req()), { code: 'ATTESTER_DEVICE_IOCTL_UNSUPPORTED' });
  await assert.rejects(new SeAttester({ uv: answering({ addDataLen: 65 }) }).getEvidence(req()), { code: 'ATTESTER_DEVICE_RESPONSE_INVALID' });
  const calls = seen.length;
  await assert.rejects(new SeAttester({ uv: answering({}) }).getEvidence(req({ measurement_size: 0 })), { code: 'ATTESTER_INVALID_ARGUMENT', message: /measurement_size is 0/ });
  await assert.rejects(new SeAttester({ uv: answering({}) }).getEvidence(req({ additional_size: 0x8001 })), { code: 'ATTESTER_INVALID_ARGUMENT' });
  await assert.rejects(uvAttest(answering({}), '/dev/uv', { arcb: new Uint8Array(0), measurementSize: 64, additionalSize: 0, userData: new Uint8Array(0) }), { code: 'ATTESTER_INVALID_ARGUMENT' });
  assert.equal(seen.length, calls, 'refused before the ioctl');
});

test('REAL addon: UVIO_IOCTL_ATT off s390x is ATTESTER_UNSUPPORTED_ARCHITECTURE (on s390x, /dev/null gives ENOTTY)', async () => {
  const r = uvAttest(nativeUv(), '/dev/null', { arcb: new Uint8Array(16), measurementSize: 64, additionalSize: 0, userData: new Uint8Array(64) });
  if (process.arch === 's390x') await assert.rejects(r, { code: 'ATTESTER_DEVICE_IOCTL_UNSUPPORTED' });
  else await assert.rejects(r, { code: 'ATTESTER_UNSUPPORTED_ARCHITECTURE', message: /only on s390x/ });
});

/**
 * Cross-check with OUR verifier (kbs/verifier, the tenant column). Loaded from its build output
 * by path at test time only: the guest column must not depend on the KBS packages, so this is no
 * package dependency (depcruise and check-workspace-deps see none). `npm test` builds it first.
 */
async function loadVerifier(): Promise<{ createVerifier(tee: string, config: unknown): { challenge?(): Promise<string>; verify(e: unknown, b: { reportData: Uint8Array }): Promise<{ claims: Record<string, unknown> }> } }> {
  const file = path.join(repoRoot(), 'kbs/verifier/dist/index.js');
  assert.ok(existsSync(file), `build the verifier first: npx tsc -b kbs/verifier (${file} is missing)`);
  return (await import(pathToFileURL(file).href)) as never;
}

function seHeader(tags: Buffer, size = 0x280): Buffer {
  const h = Buffer.alloc(size);
  h.write('IBMSecEx', 0, 'latin1');
  h.writeUInt32BE(0x100, 8);
  h.writeUInt32BE(size, 12);
  tags.copy(h, 0xe0, 0, 192);
  tags.copy(h, size - 16, 192);
  return h;
}

test('round trip with OUR SE verifier: its challenge -> SeAttester on a FAKE Ultravisor -> verifier accepts and binds report_data; tampering fails', async () => {
  requireTool('openssl');
  const d = path.join(tmp.dir, 'roundtrip');
  await mkdir(d, { recursive: true });
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:secp521r1', '-nodes', '-keyout', path.join(d, 'host.key'), '-out', path.join(d, 'hkd.crt'), '-subj', '/CN=sample host key', '-days', '1'], { stdio: 'ignore' });
  await writeFile(path.join(d, 'hdr.bin'), seHeader(TAGS));
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  const { createVerifier } = await loadVerifier();
  const v = createVerifier('se', { tees: { se: { measurementKeyPrivate: rsa, hostKeyDocuments: [path.join(d, 'hkd.crt')], imageHeader: path.join(d, 'hdr.bin'), skipHkdVerification: true } } });
  const hostKey = createPrivateKey(await readFile(path.join(d, 'host.key')));
  const uv = fakeUltravisor({ hostKeys: [generateKeyPairSync('ec', { namedCurve: 'P-521' }).privateKey, hostKey], imageHdrTags: TAGS });
  const a = new SeAttester({ uv });
  const nonce = await v.challenge!();
  const digest = createHash('sha512').update('runtime data').digest();
  const evidence = await a.getEvidence(await a.reportDataForChallenge(nonce, digest));
  assert.equal(uv.calls, 1);
  const { claims } = await v.verify(evidence, { reportData: digest });
  const phkh = createHash('sha256').update(hostKeyCoords(hostKey)).digest('hex');
  assert.deepEqual([claims['report_data'], claims['cuid'], claims['image_phkh'], claims['attestation_phkh'], claims['tag']], [digest.toString('hex'), Buffer.from(uv.configUid).toString('hex'), phkh, phkh, TAGS.subarray(192).toString('hex')]);
  await assert.rejects(v.verify(evidence, { reportData: createHash('sha512').update('other').digest() }), { code: 'VERIFIER_SE_REPORT_DATA_MISMATCH' });
  await assert.rejects(v.verify({ ...evidence, user_data: Buffer.alloc(64, 1).toString('base64') }, { reportData: Buffer.alloc(64, 1) }), { code: 'VERIFIER_SE_MEASUREMENT_MISMATCH' });
  // A machine without the host key the challenge was encrypted to: the Ultravisor refuses.
  const stranger = new SeAttester({ uv: fakeUltravisor({ hostKeys: [generateKeyPairSync('ec', { namedCurve: 'P-521' }).privateKey], imageHdrTags: TAGS }) });
  await assert.rejects(stranger.getEvidence(await stranger.reportDataForChallenge(await v.challenge!(), digest)), { code: 'ATTESTER_FIRMWARE_ERROR' });
});
