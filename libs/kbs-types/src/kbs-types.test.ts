import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { fixturePath } from '@kata-cc/testing';
import { hasCode } from '@kata-cc/errors';
import {
  TEES,
  canonicalize,
  encodeProtectedHeader,
  expectedReportData,
  kbsErrorStatus,
  kbsErrorType,
  kbsErrorVariantOf,
  parseAttestation,
  parseChallenge,
  parseErrorInformation,
  parseJson,
  parseRequest,
  parseResponse,
  regularizeData,
  bindingHashForTee,
  parseHashAlgorithm,
  b64Encode,
} from './index.js';
import type { EcTeePubKey } from './index.js';

const fixture = (name: string): unknown => parseJson(readFileSync(fixturePath(import.meta.url, `testdata/${name}`), 'utf8'));

test('TEE names are the 14 serde names of kbs-types 0.18', () => {
  assert.deepEqual([...TEES].sort(), [
    'az-snp-vtpm', 'az-tdx-vtpm', 'cca', 'csv', 'hygondcu', 'nvidia', 'nvidiadpu', 'sample', 'sampledevice', 'se', 'sgx', 'snp', 'tdx', 'tpm',
  ]);
});

test('canonical JSON matches the trustee AS unit vector', () => {
  const c = canonicalize({ b: 1, a: 'test', c: { d: 'e' } });
  assert.equal(c, '{"a":"test","b":1,"c":{"d":"e"}}');
  assert.equal(
    createHash('sha384').update(c).digest('hex'),
    'e71ce8e70d814ba6639c3612ebee0ff1f76f650f8dbb5e47157e0f3f525cd22c4597480a186427c813ca941da78870c3',
  );
});

test('canonical JSON sorts by UTF-16 code units and escapes like JSON.stringify', () => {
  assert.equal(canonicalize({ '\u20ac': 1, '\ud83d\ude00': 2, b: [true, null, 'x"y'], a: -0 }), '{"a":0,"b":[true,null,"x\\"y"],"\u20ac":1,"\ud83d\ude00":2}');
  assert.equal(canonicalize(1e21), '1e+21');
  assert.throws(() => canonicalize(Number.NaN), (e) => hasCode(e, 'KBS_CANONICAL_JSON_INVALID'));
});

test('golden attestation: report_data binding equals the worked example', () => {
  const att = parseAttestation(fixture('attestation-ec.json'));
  const rd = att['runtime-data'];
  const raw = expectedReportData(rd.nonce, rd['tee-pubkey'], att['tee-evidence'].additional_evidence, 'sha384');
  assert.equal(Buffer.from(raw).toString('hex'), '3233605779d9848f07f930c601f24f16cad6727530d3754eda0e286bc06b9f4c1ea516d2294cead230892c67eb64d45f');
  const padded = expectedReportData(rd.nonce, rd['tee-pubkey'], '', 'sha384', 64);
  assert.equal(padded.length, 64);
  assert.deepEqual(padded.subarray(48), new Uint8Array(16));
  // The sample evidence in the fixture carries the unpadded digest in base64 STANDARD.
  assert.equal((att['tee-evidence'].primary_evidence as { report_data: string }).report_data, b64Encode(raw));
  assert.equal((rd['tee-pubkey'] as EcTeePubKey).crv, 'P-256');
});

test('golden request, challenge, response, error and init-data attestation parse', () => {
  assert.equal(parseRequest(fixture('request.json')).tee, 'tdx');
  assert.equal(parseChallenge(fixture('challenge.json'))['extra-params'], '');
  const r = parseResponse(fixture('response.json'));
  assert.equal(r.protected, encodeProtectedHeader({ alg: 'fakealg', enc: 'fakeenc' }));
  const e = parseErrorInformation(fixture('error-version.json'));
  assert.equal(kbsErrorVariantOf(e.type), 'AttestationError');
  const att = parseAttestation(fixture('attestation-initdata.json'));
  assert.equal(att['init-data']?.format, 'toml');
  assert.equal(att['runtime-data']['tee-pubkey'].kty, 'RSA');
});

test('protected header is emitted alg, enc, epk{crv,kty,x,y}', () => {
  const h = encodeProtectedHeader({ epk: { y: 'Y', x: 'X', kty: 'EC', crv: 'P-256' }, enc: 'A256GCM', alg: 'ECDH-ES+A256KW' });
  assert.equal(Buffer.from(h, 'base64url').toString(), '{"alg":"ECDH-ES+A256KW","enc":"A256GCM","epk":{"crv":"P-256","kty":"EC","x":"X","y":"Y"}}');
});

test('error types: only InvalidRequestPath and PluginNotFound are 404', () => {
  assert.equal(kbsErrorStatus('InvalidRequestPath'), 404);
  assert.equal(kbsErrorStatus('PluginNotFound'), 404);
  assert.equal(kbsErrorStatus('PolicyDeny'), 401);
  assert.equal(kbsErrorType('TokenNotFound'), 'https://github.com/confidential-containers/kbs/errors/TokenNotFound');
  assert.equal(kbsErrorVariantOf('https://example.com/x'), undefined);
});

test('binding helpers: SE uses SHA-512, regularize pads and truncates', () => {
  assert.equal(bindingHashForTee('se'), 'sha512');
  assert.equal(bindingHashForTee('tdx'), 'sha384');
  assert.deepEqual(regularizeData(new Uint8Array([1, 2, 3]), 2), new Uint8Array([1, 2]));
  assert.deepEqual(regularizeData(new Uint8Array([1]), 3), new Uint8Array([1, 0, 0]));
  assert.equal(parseHashAlgorithm('SHA512'), 'sha512');
  assert.throws(() => parseHashAlgorithm('md5'), (e) => hasCode(e, 'KBS_UNSUPPORTED_HASH_ALGORITHM'));
});

const good = fixture('attestation-ec.json') as Record<string, Record<string, unknown>>;
const clone = (): Record<string, Record<string, unknown>> => structuredClone(good);

const bad: Array<[string, () => unknown, (v: unknown) => unknown, string]> = [
  ['malformed JSON', () => '{', (t) => parseJson(t as string), 'KBS_MALFORMED_JSON'],
  ['request not an object', () => [], parseRequest, 'KBS_INVALID_MESSAGE'],
  ['request wrong version', () => ({ version: '0.3.0', tee: 'tdx', 'extra-params': '' }), parseRequest, 'KBS_PROTOCOL_VERSION_MISMATCH'],
  ['request unknown TEE', () => ({ version: '0.4.0', tee: 'sev', 'extra-params': '' }), parseRequest, 'KBS_UNKNOWN_TEE'],
  ['request unknown field', () => ({ version: '0.4.0', tee: 'tdx', 'extra-params': '', x: 1 }), parseRequest, 'KBS_UNKNOWN_FIELD'],
  ['request missing extra-params', () => ({ version: '0.4.0', tee: 'tdx' }), parseRequest, 'KBS_INVALID_MESSAGE'],
  ['attestation unknown top-level field', () => ({ ...clone(), 'tee-pubkey': {} }), parseAttestation, 'KBS_UNKNOWN_FIELD'],
  ['attestation missing runtime-data', () => { const a = clone(); delete a['runtime-data']; return a; }, parseAttestation, 'KBS_INVALID_MESSAGE'],
  ['runtime-data unknown field', () => { const a = clone(); a['runtime-data']!['extra'] = 1; return a; }, parseAttestation, 'KBS_UNKNOWN_FIELD'],
  ['tee-pubkey bad curve', () => { const a = clone(); (a['runtime-data']!['tee-pubkey'] as Record<string, unknown>)['crv'] = 'P-384'; return a; }, parseAttestation, 'KBS_INVALID_TEE_PUBKEY'],
  ['tee-pubkey bad kty', () => { const a = clone(); (a['runtime-data']!['tee-pubkey'] as Record<string, unknown>)['kty'] = 'OKP'; return a; }, parseAttestation, 'KBS_INVALID_TEE_PUBKEY'],
  ['tee-pubkey short x', () => { const a = clone(); (a['runtime-data']!['tee-pubkey'] as Record<string, unknown>)['x'] = 'AAAA'; return a; }, parseAttestation, 'KBS_INVALID_TEE_PUBKEY'],
  ['additional_evidence not a string', () => { const a = clone(); a['tee-evidence']!['additional_evidence'] = {}; return a; }, parseAttestation, 'KBS_INVALID_MESSAGE'],
  ['init-data not an object', () => ({ ...clone(), 'init-data': 'x' }), parseAttestation, 'KBS_INVALID_MESSAGE'],
  ['response padded base64', () => ({ ...(fixture('response.json') as object), iv: 'AA==' }), parseResponse, 'KBS_INVALID_MESSAGE'],
];

for (const [name, make, parse, code] of bad) {
  test(`rejects ${name} with ${code}`, () => {
    assert.throws(() => parse(make()), (e) => hasCode(e, code));
  });
}

test('canonical JSON round-trips any JSON value and is idempotent (property)', async () => {
  const fc = (await import('fast-check')).default;
  fc.assert(
    fc.property(fc.jsonValue(), (v) => {
      const c = canonicalize(v);
      const back = JSON.parse(c) as unknown;
      assert.equal(canonicalize(back), c);
      assert.deepEqual(back, JSON.parse(JSON.stringify(v)));
      assert.doesNotMatch(c, /\n/);
    }),
    { numRuns: 500 },
  );
});
