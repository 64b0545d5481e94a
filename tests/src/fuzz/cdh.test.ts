/**
 * Fuzz: the confidential data hub's inputs from outside the TEE: sealed secrets (from the pod
 * spec, i.e. the host) and the ocicrypt keyprovider input/annotation packet (from the image
 * manifest). Both must open or fail with a CDH_ KccError. With signature verification on, a
 * mutated sealed secret may only open if its signed part is unchanged.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { handleKeyProviderInput, kbsEnvelope, sealSecret, unsealSecret, type ResourceGetter } from '@kata-cc/cdh';
import { expectKcc, fuzz, mutate, mutationArb, test, within } from './budget.js';
import { jsonMutant, type Json } from './json-mutant.js';

const signer = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const kek = randomBytes(32);
const resources: ResourceGetter = {
  async getResource(uri: string): Promise<Uint8Array> {
    if (uri === 'kbs:///default/sealing/pub') return new Uint8Array(Buffer.from(JSON.stringify(signer.publicKey.export({ format: 'jwk' }))));
    if (uri.startsWith('kbs:///default/kek/')) return kek;
    return new Uint8Array(Buffer.from('vault-secret'));
  },
  async close(): Promise<void> {},
};

async function outcome(what: string, p: Promise<unknown>): Promise<string> {
  try {
    await within(5000, what, p);
    return 'opened';
  } catch (e) {
    return expectKcc(e, 'CDH_', what).code;
  }
}

test('fuzz: sealed secrets (vault and envelope, mutated; with and without signature verification)', async () => {
  const vault = sealSecret({ type: 'vault', provider: 'kbs', name: 'kbs:///default/secret/1', provider_settings: {}, annotations: {} }, signer.privateKey, 'kbs:///default/sealing/pub');
  const envelope = sealSecret(kbsEnvelope(Buffer.from('plain'), kek, 'kbs:///default/kek/1'), signer.privateKey, 'kbs:///default/sealing/pub');
  for (const s of [vault, envelope]) assert.equal(await outcome('unseal seed', unsealSecret(s, { resources, skipVerification: false })), 'opened');
  const seeds = [vault, envelope].map((s) => new Uint8Array(Buffer.from(s)));
  // Payload-level mutations: re-signed JSON (structural), so the parser past the signature sees them.
  const payloads = [
    { version: '0.1.0', type: 'vault', provider: 'kbs', name: 'kbs:///default/secret/1', provider_settings: {}, annotations: {} },
    { version: '0.1.0', ...kbsEnvelope(Buffer.from('plain'), kek, 'kbs:///default/kek/1') },
  ] as unknown as Json[];
  await fuzz('cdh/unsealSecret(mutated bytes)', [fc.oneof(...seeds.map((s, i) => mutationArb(s.length).map((ms) => ({ i, b: mutate(s, ms) })))), fc.boolean()], async ({ i, b }, skip) => {
    const r = await outcome('unsealSecret', unsealSecret(b, { resources, skipVerification: skip }));
    if (r === 'opened' && !skip) {
      // Opening with verification means the signed header.payload is intact.
      const [, h, p] = Buffer.from(b).toString('utf8').trim().split('.');
      const [, h0, p0] = Buffer.from(seeds[i]!).toString().split('.');
      assert.ok(h === h0 && p === p0, 'a sealed secret with a changed signed part was opened');
    }
    return r;
  }, { runs: 300, seconds: 3 });
  await fuzz('cdh/unsealSecret(re-signed payloads)', [fc.oneof(...payloads.map((p) => jsonMutant(p)))], async (p) => {
    // sealSecret signs an object: wrap non-objects so the payload JSON stays what was drawn.
    const text = Buffer.from(p).toString('utf8');
    const b64 = Buffer.from(text).toString('base64url');
    const good = sealSecret({}, signer.privateKey, 'kbs:///default/sealing/pub').split('.');
    const unsigned = `sealed.${good[1]!}.${b64}.${good[3]!}`;
    return outcome('unsealSecret', unsealSecret(unsigned, { resources, skipVerification: true }));
  }, { runs: 300, seconds: 3 });
});

test('fuzz: keyprovider input and annotation packets (from the image manifest)', async () => {
  const packet = { kid: 'kbs:///default/kek/1', wrapped_data: Buffer.alloc(48, 1).toString('base64'), iv: Buffer.alloc(12, 2).toString('base64'), wrap_type: 'A256GCM' };
  await fuzz('cdh/handleKeyProviderInput', [jsonMutant(packet as Json), fc.boolean()], async (p, asArray) => {
    const annotation = asArray ? [...p] : Buffer.from(p).toString('base64');
    const input = new Uint8Array(Buffer.from(JSON.stringify({ op: 'keyunwrap', keyunwrapparams: { dc: { parameters: {} }, annotation } })));
    return outcome('handleKeyProviderInput', handleKeyProviderInput(input, resources));
  }, { runs: 300, seconds: 2 });
  const input = { op: 'keyunwrap', keyunwrapparams: { annotation: Buffer.from(JSON.stringify(packet)).toString('base64') } };
  await fuzz('cdh/handleKeyProviderInput(envelope)', [jsonMutant(input as Json)], (b) => outcome('handleKeyProviderInput', handleKeyProviderInput(b, resources)), { runs: 300, seconds: 2 });
});
