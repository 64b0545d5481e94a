import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { hasCode } from '@kata-cc/errors';
import { b64Encode, expectedReportData, runtimeDataDigest } from '@kata-cc/kbs-types';
import type { Attestation, TeePubKey } from '@kata-cc/kbs-types';
import { AttestationService, TokenSigner, parseInitData, parseRvpsMessage, statusOf, tierOf } from './index.js';
import type { AsStore } from './index.js';

function store(): AsStore & { refs: Record<string, unknown> } {
  const policies = new Map<string, string>();
  const refs: Record<string, unknown> = {};
  return {
    refs,
    getPolicy: async (_k, id) => policies.get(id),
    putPolicy: async (_k, id, body) => void policies.set(id, body),
    listReferenceValues: async () => refs,
  };
}

function key(): TeePubKey {
  const j = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
  return { kty: 'EC', crv: 'P-256', alg: 'ECDH-ES+A256KW', x: String(j.x), y: String(j.y) };
}

function sampleAttestation(nonce: string, k: TeePubKey, initBody?: string): Attestation {
  const rd = expectedReportData(nonce, k, '', 'sha384');
  return {
    'init-data': initBody === undefined ? null : { format: 'toml', body: initBody },
    'runtime-data': { nonce, 'tee-pubkey': k },
    'tee-evidence': { primary_evidence: { svn: '1', report_data: b64Encode(rd) }, additional_evidence: '' },
  };
}

const signer = new TokenSigner(TokenSigner.generatePem());

test('EAR tiers and worst-tier status (AR4SI)', () => {
  assert.equal(tierOf(0), 'none');
  assert.equal(tierOf(2), 'affirming');
  assert.equal(tierOf(33), 'warning');
  assert.equal(tierOf(97), 'contraindicated');
  assert.equal(statusOf({ executables: 3, hardware: 97 }), 'contraindicated');
  assert.equal(statusOf({ executables: 3, hardware: 2, configuration: 36 }), 'warning');
});

test('dev mode: default policy affirms sample; the token verifies and carries init-data claims', async () => {
  const as = new AttestationService({ store: store(), signer, devMode: true });
  const k = key();
  const init = 'version = "0.1.0"\nalgorithm = "sha256"\n[data]\n"aa.toml" = \'\'\'\n[token_configs.kbs]\nurl = "http://kbs"\n\'\'\'\n';
  const { token, claims } = await as.attest({ tee: 'sample', nonce: 'n1', attestation: sampleAttestation('n1', k, init) });
  const cpu0 = (claims['submods'] as Record<string, Record<string, unknown>>)['cpu0']!;
  assert.equal(cpu0['ear.status'], 'affirming');
  const ev = cpu0['ear.veraison.annotated-evidence'] as Record<string, unknown>;
  assert.deepEqual(ev['init_data_claims'], { 'aa.toml': { token_configs: { kbs: { url: 'http://kbs' } } } });
  assert.equal(ev['init_data'], Buffer.from(parseInitData({ format: 'toml', body: init }).hash).toString('hex'));
  assert.deepEqual(signer.verify(token)['submods'], claims['submods']);
});

test('composite evidence: sample + sampledevice give cpu0 and gpu0 submods, each bound', async () => {
  const as = new AttestationService({ store: store(), signer, devMode: true });
  const k = key();
  const devRd = runtimeDataDigest({ nonce: 'n2', 'tee-pubkey': k }, 'sha384');
  const additional = JSON.stringify({ sampledevice: { svn: '2', report_data: b64Encode(devRd) } });
  const rd = expectedReportData('n2', k, additional, 'sha384');
  const att: Attestation = {
    'runtime-data': { nonce: 'n2', 'tee-pubkey': k },
    'tee-evidence': { primary_evidence: { svn: '1', report_data: b64Encode(rd) }, additional_evidence: additional },
  };
  const { claims } = await as.attest({ tee: 'sample', nonce: 'n2', attestation: att });
  const submods = claims['submods'] as Record<string, Record<string, unknown>>;
  assert.deepEqual(Object.keys(submods).sort(), ['cpu0', 'gpu0']);
  assert.equal(submods['gpu0']!['ear.status'], 'affirming');
  // A device evidence bound to another nonce is refused.
  const bad = JSON.stringify({ sampledevice: { svn: '2', report_data: b64Encode(runtimeDataDigest({ nonce: 'x', 'tee-pubkey': k }, 'sha384')) } });
  const rd2 = expectedReportData('n2', k, bad, 'sha384');
  await assert.rejects(
    as.attest({ tee: 'sample', nonce: 'n2', attestation: { 'runtime-data': { nonce: 'n2', 'tee-pubkey': k }, 'tee-evidence': { primary_evidence: { svn: '1', report_data: b64Encode(rd2) }, additional_evidence: bad } } }),
    (e) => hasCode(e, 'VERIFIER_REPORT_DATA_MISMATCH'),
  );
});

test('a custom policy using query_reference_value is affirming only for registered values', async () => {
  const s = store();
  const as = new AttestationService({ store: s, signer, devMode: true });
  await as.setPolicy('default_cpu', `package policy
import rego.v1
default hardware := 97
hardware = 2 if { input.sample.svn in query_reference_value("svn") }
trust_claims := {"hardware": hardware}
`);
  const k = key();
  let r = await as.attest({ tee: 'sample', nonce: 'n', attestation: sampleAttestation('n', k) });
  assert.equal((r.claims['submods'] as Record<string, Record<string, unknown>>)['cpu0']!['ear.status'], 'contraindicated');
  for (const v of parseRvpsMessage({ version: '0.1.0', type: 'sample', payload: b64Encode(JSON.stringify({ svn: ['1'] })) })) s.refs[v.name] = v.values;
  r = await as.attest({ tee: 'sample', nonce: 'n', attestation: sampleAttestation('n', k) });
  assert.equal((r.claims['submods'] as Record<string, Record<string, unknown>>)['cpu0']!['ear.status'], 'affirming');
});

test('bad policies, init-data, RVPS messages and tokens get stable codes', async () => {
  const as = new AttestationService({ store: store(), signer, devMode: true });
  await assert.rejects(as.setPolicy('default_cpu', 'package policy\nx if {'), (e) => hasCode(e, 'AS_POLICY_INVALID'));
  await assert.rejects(as.setPolicy('../x', 'package policy'), (e) => hasCode(e, 'AS_POLICY_ID_INVALID'));
  await as.setPolicy('default_cpu', 'package policy\ntrust_claims := {}\n');
  await assert.rejects(as.attest({ tee: 'sample', nonce: 'n', attestation: sampleAttestation('n', key()) }), (e) => hasCode(e, 'AS_POLICY_NO_TRUST_CLAIMS'));
  assert.throws(() => parseInitData({ format: 'json', body: '{}' }), (e) => hasCode(e, 'AS_INIT_DATA_INVALID'));
  assert.throws(() => parseInitData({ format: 'toml', body: 'a = ' }), (e) => hasCode(e, 'AS_INIT_DATA_INVALID'));
  assert.throws(() => parseRvpsMessage({ version: '0.2.0', type: 'sample', payload: '' }), (e) => hasCode(e, 'AS_REFERENCE_VALUE_INVALID'));
  assert.throws(() => parseRvpsMessage({ version: '0.1.0', type: 'sample', payload: b64Encode('[]') }), (e) => hasCode(e, 'AS_REFERENCE_VALUE_INVALID'));
  const expired = signer.sign({ exp: Math.floor(Date.now() / 1000) - 10 });
  assert.throws(() => signer.verify(expired), (e) => hasCode(e, 'AS_TOKEN_EXPIRED'));
  const other = new TokenSigner(TokenSigner.generatePem()).sign({ exp: Math.floor(Date.now() / 1000) + 60 });
  assert.throws(() => signer.verify(other), (e) => hasCode(e, 'AS_TOKEN_INVALID'));
  assert.throws(() => new TokenSigner(generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()), (e) => hasCode(e, 'AS_TOKEN_SIGNER_INVALID'));
});

test('without dev mode sample evidence is refused by the verifier registry', async () => {
  const as = new AttestationService({ store: store(), signer });
  await assert.rejects(as.attest({ tee: 'sample', nonce: 'n', attestation: sampleAttestation('n', key()) }), (e) => hasCode(e, 'VERIFIER_SAMPLE_DISABLED'));
});
