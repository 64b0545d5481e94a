/**
 * Fuzz: the KBS protocol message parsers of @kata-cc/kbs-types (used by the KBS on requests
 * and by the guest's KBS client on answers). Every parser returns or throws a KBS_ KccError,
 * for mutated valid messages, arbitrary JSON and deep nesting.
 */
import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import {
  canonicalize, checkProtocolVersion, parseAdditionalEvidence, parseAttestation, parseChallenge, parseErrorInformation,
  parseHashAlgorithm, parseJson, parseRequest, parseResponse, parseTeePubKey, runtimeDataDigest, KBS_PROTOCOL_VERSION,
} from '@kata-cc/kbs-types';
import { expectKcc, fuzz, test } from './budget.js';
import { deepArray, jsonMutant, type Json } from './json-mutant.js';

const j = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
const jwk = { kty: 'EC', crv: 'P-256', alg: 'ECDH-ES+A256KW', x: String(j.x), y: String(j.y) };
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' });
const seeds: { name: string; valid: Json; parse: (v: unknown) => unknown }[] = [
  { name: 'Request', valid: { version: KBS_PROTOCOL_VERSION, tee: 'tdx', 'extra-params': '' }, parse: parseRequest },
  { name: 'Challenge', valid: { nonce: 'bm9uY2U=', 'extra-params': '' }, parse: parseChallenge },
  { name: 'TeePubKey(EC)', valid: jwk, parse: (v) => parseTeePubKey(v) },
  { name: 'TeePubKey(RSA)', valid: { kty: 'RSA', alg: 'RSA-OAEP-256', n: String(rsa.n), e: String(rsa.e) }, parse: (v) => parseTeePubKey(v) },
  {
    name: 'Attestation',
    valid: { 'init-data': { format: 'toml', body: 'version = "0.1.0"' }, 'runtime-data': { nonce: 'bm9uY2U=', 'tee-pubkey': jwk }, 'tee-evidence': { primary_evidence: { svn: '1' }, additional_evidence: '{"tpm":{}}' } },
    parse: parseAttestation,
  },
  {
    name: 'Response',
    valid: { protected: 'eyJhbGciOiJFQ0RILUVTK0EyNTZLVyJ9', encrypted_key: 'AAAA', iv: 'AAAA', ciphertext: 'AAAA', tag: 'AAAA', aad: 'AA' },
    parse: parseResponse,
  },
  { name: 'ErrorInformation', valid: { type: 'https://github.com/confidential-containers/kbs/errors/PolicyDeny', detail: 'denied' }, parse: parseErrorInformation },
];

function kbsOnly(what: string, f: () => unknown): string {
  try {
    f();
    return 'parsed';
  } catch (e) {
    return expectKcc(e, 'KBS_', what).code;
  }
}

test('fuzz: KBS message parsers on mutated valid messages (bytes through parseJson)', async () => {
  for (const s of seeds) {
    kbsOnly(`${s.name} seed`, () => s.parse(s.valid)); // a valid seed must not throw at all:
    s.parse(s.valid);
    await fuzz(`kbs-types/parse${s.name}`, [jsonMutant(s.valid)], (bytes) => kbsOnly(s.name, () => s.parse(parseJson(bytes))), { runs: 300, seconds: 1.5 });
  }
});

test('fuzz: arbitrary JSON values and strings into every parser', async () => {
  await fuzz('kbs-types/any JSON', [fc.jsonValue({ maxDepth: 4 }), fc.nat(seeds.length - 1)], (v, i) => kbsOnly(seeds[i]!.name, () => seeds[i]!.parse(v)), { runs: 800, seconds: 2 });
  await fuzz('kbs-types/strings', [fc.string({ unit: 'binary', maxLength: 200 })], (s) => {
    kbsOnly('checkProtocolVersion', () => checkProtocolVersion(s));
    kbsOnly('parseHashAlgorithm', () => parseHashAlgorithm(s));
    return kbsOnly('parseAdditionalEvidence', () => parseAdditionalEvidence(s));
  }, { runs: 500, seconds: 1 });
});

test('fuzz: canonical JSON and the runtime-data digest on arbitrary and deeply nested values', async () => {
  await fuzz('kbs-types/canonicalize', [fc.oneof(fc.jsonValue({ maxDepth: 5 }), fc.constantFrom(5000, 50_000).map(deepArray))], (v) => {
    kbsOnly('canonicalize', () => canonicalize(v));
    return kbsOnly('runtimeDataDigest', () => runtimeDataDigest(v, 'sha384'));
  }, { runs: 300, seconds: 2 });
});
