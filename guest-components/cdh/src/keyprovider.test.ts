import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, randomBytes } from 'node:crypto';
import { hasCode } from '@kata-cc/errors';
import { handleKeyProviderInput, unwrapLayerKey } from './keyprovider.js';
import { MapResources } from './testing-resources.js';

function packet(kek: Buffer, lek: Buffer, wrapType: 'A256GCM' | 'A256CTR', kid = 'kbs:///default/key/1'): Buffer {
  const iv = randomBytes(wrapType === 'A256GCM' ? 12 : 16);
  const c = createCipheriv(wrapType === 'A256GCM' ? 'aes-256-gcm' : 'aes-256-ctr', kek, iv);
  const wrapped = Buffer.concat([c.update(lek), c.final(), wrapType === 'A256GCM' ? (c as ReturnType<typeof createCipheriv> & { getAuthTag(): Buffer }).getAuthTag() : Buffer.alloc(0)]);
  return Buffer.from(JSON.stringify({ kid, wrapped_data: wrapped.toString('base64'), iv: iv.toString('base64'), wrap_type: wrapType }));
}

test('unwrapLayerKey() opens v1 annotation packets (A256GCM and A256CTR) with the KEK from the KBS', async () => {
  const kek = randomBytes(32);
  const lek = Buffer.from(JSON.stringify({ symkey: randomBytes(32).toString('base64'), cipheroptions: { nonce: randomBytes(16).toString('base64') } }));
  const res = new MapResources().set('kbs:///default/key/1', kek);
  for (const w of ['A256GCM', 'A256CTR'] as const) assert.deepEqual(Buffer.from(await unwrapLayerKey(packet(kek, lek, w), res)), lek);
  // Legacy double prefix seen in guest-components test data.
  res.set('kbs:///kbs:///default/key/1', kek);
  assert.deepEqual(Buffer.from(await unwrapLayerKey(packet(kek, lek, 'A256GCM', 'kbs:///kbs:///default/key/1'), res)), lek);
});

test('handleKeyProviderInput() speaks the ocicrypt JSON: base64 annotation in, optsdata as a byte array out', async () => {
  const kek = randomBytes(32);
  const lek = Buffer.from('{"symkey":"x"}');
  const res = new MapResources().set('kbs:///default/key/1', kek);
  const ann = packet(kek, lek, 'A256GCM');
  const input = { op: 'keyunwrap', keywrapparams: { ec: null, optsdata: null }, keyunwrapparams: { dc: { Parameters: { 'attestation-agent': [] } }, annotation: ann.toString('base64') } };
  const out = JSON.parse(Buffer.from(await handleKeyProviderInput(Buffer.from(JSON.stringify(input)), res)).toString());
  assert.deepEqual(out, { keyunwrapresults: { optsdata: [...lek] } });
  // Rust ocicrypt sends byte arrays; accept them too.
  const rustInput = { ...input, keyunwrapparams: { dc: null, annotation: [...ann] } };
  const out2 = JSON.parse(Buffer.from(await handleKeyProviderInput(Buffer.from(JSON.stringify(rustInput)), res)).toString());
  assert.deepEqual(Buffer.from(out2.keyunwrapresults.optsdata), lek);
});

test('handleKeyProviderInput() rejects bad input with stable codes', async () => {
  const res = new MapResources();
  const cases: Array<[unknown, string]> = [
    ['not json', 'CDH_KEYPROVIDER_INPUT'],
    [{ op: 'keywrap' }, 'CDH_UNSUPPORTED'],
    [{ op: 'other' }, 'CDH_KEYPROVIDER_INPUT'],
    [{ op: 'keyunwrap', keyunwrapparams: { annotation: '***' } }, 'CDH_KEYPROVIDER_INPUT'],
    [{ op: 'keyunwrap', keyunwrapparams: { annotation: Buffer.from('{"kid":1}').toString('base64') } }, 'CDH_KEYPROVIDER_INPUT'],
    [{ op: 'keyunwrap', keyunwrapparams: { annotation: Buffer.from(JSON.stringify({ kid: 'kbs:///a/b/c', wrapped_data: '', iv: '', wrap_type: 'DES' })).toString('base64') } }, 'CDH_KEYPROVIDER_INPUT'],
    [{ op: 'keyunwrap', keyunwrapparams: { annotation: Buffer.from(JSON.stringify({ kid: 'kbs:///a/b/c', wrapped_data: '', iv: '', wrap_type: 'A256GCM' })).toString('base64') } }, 'CDH_RESOURCE_NOT_FOUND'],
  ];
  for (const [input, code] of cases) {
    const bytes = Buffer.from(typeof input === 'string' ? input : JSON.stringify(input));
    await assert.rejects(handleKeyProviderInput(bytes, res), (e) => hasCode(e, code), JSON.stringify(input));
  }
  const kek = randomBytes(32);
  res.set('kbs:///default/key/1', randomBytes(32));
  await assert.rejects(unwrapLayerKey(packet(kek, Buffer.from('x'), 'A256GCM'), res), (e) => hasCode(e, 'CDH_DECRYPT_FAILED'));
});
