import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPublicKey, verify } from 'node:crypto';
import { requireTool } from '@kata-cc/testing';
import { TpmAttester, detectTpm } from './tpm.js';
import { startSwtpm, type Swtpm } from './swtpm-fixture.js';

let tpm: Swtpm;
before(async () => {
  requireTool('swtpm');
  requireTool('tpm2_createak');
  tpm = await startSwtpm();
});
after(async () => { await tpm?.stop(); });

test('TPM attester against swtpm: quote signed by the AK over 24 SHA-256 PCRs, nonce = report_data padded to 64', async () => {
  const a = new TpmAttester({ device: tpm.spec });
  const rd = createHash('sha384').update('runtime data').digest();
  const ev = await a.getEvidence(rd);
  assert.equal(ev.tpm_quote.pcrs.length, 24);
  const msg = Buffer.from(ev.tpm_quote.message, 'base64');
  assert.equal(msg.readUInt32BE(0), 0xff544347);
  const signerLen = msg.readUInt16BE(6);
  const extraLen = msg.readUInt16BE(8 + signerLen);
  const extra = msg.subarray(10 + signerLen, 10 + signerLen + extraLen);
  assert.deepEqual(extra, Buffer.concat([rd, Buffer.alloc(16)]));
  const sig = Buffer.from(ev.tpm_quote.signature, 'base64');
  assert.equal(sig.readUInt16BE(0), 0x0014); // RSASSA
  const ak = createPublicKey({ key: Buffer.from(ev.ak_public, 'base64'), format: 'der', type: 'spki' });
  assert.ok(verify('sha256', msg, ak, sig.subarray(6)));
  await assert.rejects(a.getEvidence(new Uint8Array(65)), { code: 'ATTESTER_REPORT_DATA_TOO_LONG' });
});

test('TPM attester binds init-data by extending PCR8 once; a second, different digest is refused', async () => {
  const a = new TpmAttester({ device: tpm.spec });
  const d = createHash('sha256').update('init data').digest();
  assert.equal(await a.bindInitData(d), 'extended');
  assert.equal(await a.bindInitData(d), 'extended');
  const ev = await a.getEvidence(new Uint8Array(32));
  assert.equal(ev.tpm_quote.pcrs[8], createHash('sha256').update(Buffer.alloc(32)).update(d).digest('hex'));
  await assert.rejects(a.bindInitData(createHash('sha256').update('other').digest()), { code: 'ATTESTER_INITDATA_MISMATCH' });
});

test('TPM attester extends runtime events into the SHA-256 PCR named by the register, and the quote carries it', async () => {
  const a = new TpmAttester({ device: tpm.spec });
  const rm = a.runtimeMeasurement;
  const before = Buffer.from(await rm.read(16));
  const event = createHash('sha256').update('runtime event').digest();
  await rm.extend(event, 16);
  const expected = createHash('sha256').update(before).update(event).digest();
  assert.deepEqual(Buffer.from(await rm.read(16)), expected);
  assert.equal((await a.getEvidence(new Uint8Array(32))).tpm_quote.pcrs[16], expected.toString('hex'));
  await assert.rejects(rm.extend(Buffer.alloc(48), 16), { code: 'ATTESTER_INVALID_ARGUMENT' });
});

test('TPM detection follows AA_TPM_DEVICE and the device node', async () => {
  assert.equal(await detectTpm({ env: { AA_TPM_DEVICE: tpm.spec } }), true);
  assert.equal(await detectTpm({ env: {}, root: '/nonexistent-root' }), false);
});
