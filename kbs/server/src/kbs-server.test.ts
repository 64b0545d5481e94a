import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { generateKeyPairSync } from 'node:crypto';
import { SignJWT } from 'jose';
import { hasCode } from '@kata-cc/errors';
import { b64Encode, expectedReportData, kbsErrorType } from '@kata-cc/kbs-types';
import type { KbsErrorVariant } from '@kata-cc/kbs-types';
import { createKbsServer, type KbsServer } from './app.js';
import { MemoryStore } from './storage/memory/memory-store.js';
import { adminKeys, call, getResource, handshake, policyBody, teeKey } from './test-client.js';

const admin = adminKeys('ed25519');
const adminEc = adminKeys('P-256');
let kbs: KbsServer;
let prod: KbsServer;
let base = '';
let prodBase = '';

async function listen(s: KbsServer): Promise<string> {
  return s.app.listen({ host: '127.0.0.1', port: 0 });
}

before(async () => {
  kbs = await createKbsServer({ store: new MemoryStore(), adminKeys: [admin.publicPem, adminEc.publicPem], devMode: true, bodyLimitBytes: 64 * 1024, sessionTimeoutSeconds: 60 });
  base = await listen(kbs);
  prod = await createKbsServer({ store: new MemoryStore(), adminKeys: [] });
  prodBase = await listen(prod);
  const r = await call(`${base}/kbs/v0/resource/default/key/1`, 'POST', new Uint8Array(Buffer.from('s3cret')), { authorization: `Bearer ${await admin.token()}`, 'content-type': 'application/octet-stream' });
  assert.equal(r.status, 200, r.body);
});

after(async () => {
  await kbs?.close();
  await prod?.close();
});

const adminHdr = async (): Promise<Record<string, string>> => ({ authorization: `Bearer ${await admin.token()}` });

function assertError(r: { status: number; body: string }, status: number, variant: KbsErrorVariant, detail?: RegExp): void {
  assert.equal(r.status, status, r.body);
  const e = JSON.parse(r.body) as { type: string; detail: string };
  assert.equal(e.type, kbsErrorType(variant));
  if (detail !== undefined) assert.match(e.detail, detail);
}

/** A raw request: fetch would normalize `..` and `//` before sending them. */
function raw(method: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: u.hostname, port: u.port, method, path, headers }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

for (const kind of ['P-256', 'P-521', 'RSA'] as const) {
  test(`full sample handshake with a ${kind} TEE key (cookie) and the JWE decrypts with jose`, async () => {
    const key = teeKey(kind);
    const { cookie } = await handshake(base, key);
    const plain = await getResource(base, 'default/key/1', key, { cookie });
    assert.equal(Buffer.from(plain).toString(), 's3cret');
  });
}

test('Bearer token mode, token shape (EAR, ES256, jwk header, tee-pubkey path) and JWE header order', async () => {
  const key = teeKey('P-256');
  const { token } = await handshake(base, key);
  const [h, p] = token.split('.') as [string, string];
  const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, unknown>;
  assert.equal(header['alg'], 'ES256');
  assert.equal((header['jwk'] as Record<string, unknown>)['crv'], 'P-256');
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as { submods: Record<string, Record<string, unknown>> };
  const cpu0 = claims.submods['cpu0']!;
  assert.equal(cpu0['ear.status'], 'affirming');
  const ev = cpu0['ear.veraison.annotated-evidence'] as { runtime_data_claims: { 'tee-pubkey': unknown }; sample: unknown };
  assert.deepEqual(ev.runtime_data_claims['tee-pubkey'], key.jwk);
  assert.ok(ev.sample);
  const plain = await getResource(base, 'default/key/1', key, { token });
  assert.equal(Buffer.from(plain).toString(), 's3cret');
  const r = await call(`${base}/kbs/v0/resource/default/key/1`, 'GET', undefined, { authorization: `Bearer ${token}` });
  const prot = Buffer.from((r.json() as { protected: string }).protected, 'base64url').toString();
  assert.match(prot, /^\{"alg":"ECDH-ES\+A256KW","enc":"A256GCM","epk":\{"crv":"P-256","kty":"EC","x":"[^"]+","y":"[^"]+"\}\}$/);
});

test('a large token (init-data claims over 16 KiB) works as a Bearer header', async () => {
  const key = teeKey();
  const a = await call(`${base}/kbs/v0/auth`, 'POST', authBody);
  const nonce = (a.json() as { nonce: string }).nonce;
  const rd = expectedReportData(nonce, key.jwk, '', 'sha384');
  const body = `version = "0.1.0"\nalgorithm = "sha384"\n[data]\nbig = "${'x'.repeat(60_000)}"\n`;
  const t = await call(`${base}/kbs/v0/attest`, 'POST', {
    'init-data': { format: 'toml', body },
    'runtime-data': { nonce, 'tee-pubkey': key.jwk },
    'tee-evidence': { primary_evidence: { svn: '1', report_data: b64Encode(rd) }, additional_evidence: '' },
  }, { cookie: a.cookie ?? '' });
  assert.equal(t.status, 200, t.body);
  const token = (t.json() as { token: string }).token;
  assert.ok(token.length > 60_000);
  assert.equal(Buffer.from(await getResource(base, 'default/key/1', key, { token })).toString(), 's3cret');
});

test('admin API: reference values, attestation policy, resource policy round trip, delete', async () => {
  const rv = { version: '0.1.0', type: 'sample', payload: Buffer.from(JSON.stringify({ svn: ['1'] })).toString('base64') };
  assert.equal((await call(`${base}/kbs/v0/reference-value`, 'POST', rv, await adminHdr())).status, 200);
  const got = await call(`${base}/kbs/v0/reference-value/svn`, 'GET', undefined, await adminHdr());
  assert.deepEqual(got.json(), ['1']);
  assertError(await call(`${base}/kbs/v0/reference-value/nope`, 'GET', undefined, await adminHdr()), 401, 'RvpsError');
  // trustee: GET lists the policy ids (PolicyEngine::list_policies), a JSON array.
  const list = await call(`${base}/kbs/v0/resource-policy`, 'GET', undefined, await adminHdr());
  assert.equal(list.status, 200);
  assert.equal(list.body, '["resource-policy"]');
  // Our extension: GET .../resource-policy/<id> gives the Rego as the POST body carries it.
  const pol = await call(`${base}/kbs/v0/resource-policy/resource-policy`, 'GET', undefined, await adminHdr());
  assert.equal((pol.json() as Record<string, string>)['id'], 'resource-policy');
  assert.match(Buffer.from((pol.json() as Record<string, string>)['policy']!, 'base64url').toString(), /package policy/);
  assertError(await call(`${base}/kbs/v0/resource-policy/other`, 'GET', undefined, await adminHdr()), 401, 'PolicyEngineError', /No resource policy "other"/);
  assertError(await call(`${base}/kbs/v0/resource-policy/resource-policy`, 'GET'), 401, 'AdminAuthAccess');
  assertError(await call(`${base}/kbs/v0/resource-policy`, 'POST', policyBody('package policy\nallow if {'), await adminHdr()), 401, 'ParsePolicyError');
  assertError(await call(`${base}/kbs/v0/attestation-policy`, 'POST', { policy_id: 'default_cpu' }, await adminHdr()), 401, 'ParsePolicyError');
  assert.equal((await call(`${base}/kbs/v0/resource/default/tmp/1`, 'POST', 'x', { ...(await adminHdr()), 'content-type': 'application/octet-stream' })).status, 200);
  assert.equal((await call(`${base}/kbs/v0/resource/default/tmp/1`, 'DELETE', undefined, await adminHdr())).status, 200);
  assertError(await call(`${base}/kbs/v0/resource/default/tmp/1`, 'DELETE', undefined, await adminHdr()), 401, 'PluginInternalError');
});

test('resource policy deny-all gives PolicyDeny; restoring allow releases again', async () => {
  const key = teeKey();
  const { cookie } = await handshake(base, key);
  assert.equal((await call(`${base}/kbs/v0/resource-policy`, 'POST', policyBody('package policy\n\ndefault allow := false\n'), await adminHdr())).status, 200);
  assertError(await call(`${base}/kbs/v0/resource/default/key/1`, 'GET', undefined, { cookie }), 401, 'PolicyDeny');
  const allow = 'package policy\n\nimport rego.v1\n\ndefault allow := false\n\nallow if data["resource-path"][0] == "default"\n';
  assert.equal((await call(`${base}/kbs/v0/resource-policy`, 'POST', policyBody(allow), await adminHdr())).status, 200);
  assert.equal(Buffer.from(await getResource(base, 'default/key/1', key, { cookie })).toString(), 's3cret');
});

test('healthz and Prometheus metrics', async () => {
  assert.equal((await call(`${base}/healthz`, 'GET')).status, 200);
  const m = await call(`${base}/metrics`, 'GET');
  assert.match(m.body, /kbs_http_requests_total\{endpoint="auth",status="200"\}/);
  assert.match(m.body, /kbs_attestations_total/);
});

const authBody = { version: '0.4.0', tee: 'sample', 'extra-params': '' };

async function attestBody(cookie: string, nonce: string, key = teeKey(), reportNonce = nonce, at = base): Promise<{ status: number; body: string }> {
  const rd = expectedReportData(reportNonce, key.jwk, '', 'sha384');
  return call(`${at}/kbs/v0/attest`, 'POST', {
    'runtime-data': { nonce, 'tee-pubkey': key.jwk },
    'tee-evidence': { primary_evidence: { svn: '1', report_data: b64Encode(rd) }, additional_evidence: '' },
  }, { cookie });
}

async function authed(at = base): Promise<{ cookie: string; nonce: string }> {
  const a = await call(`${at}/kbs/v0/auth`, 'POST', authBody);
  return { cookie: a.cookie ?? '', nonce: (a.json() as { nonce: string }).nonce };
}

const cases: Array<[string, () => Promise<{ status: number; body: string }>, number, KbsErrorVariant, RegExp?]> = [
  ['auth: malformed JSON', () => call(`${base}/kbs/v0/auth`, 'POST', '{"version":'), 401, 'AttestationError', /Malformed JSON/],
  ['auth: unknown field', () => call(`${base}/kbs/v0/auth`, 'POST', { ...authBody, extra: 1 }), 401, 'AttestationError', /Unknown field "extra"/],
  ['auth: wrong protocol version names both', () => call(`${base}/kbs/v0/auth`, 'POST', { ...authBody, version: '0.3.0' }), 401, 'AttestationError', /expect =0\.4\.0 while the request is 0\.3\.0/],
  ['auth: unknown TEE', () => call(`${base}/kbs/v0/auth`, 'POST', { ...authBody, tee: 'sev' }), 401, 'AttestationError', /Unknown TEE/],
  ['auth: sample refused outside dev mode', () => call(`${prodBase}/kbs/v0/auth`, 'POST', authBody), 401, 'AttestationError', /--allow-sample/],
  ['auth: oversized body', () => call(`${base}/kbs/v0/auth`, 'POST', { ...authBody, 'extra-params': 'x'.repeat(70 * 1024) }), 413, 'HTTPFailed', /exceeds the limit/],
  ['attest: no session cookie', () => call(`${base}/kbs/v0/attest`, 'POST', {}), 401, 'AttestationError', /No kbs-session-id/],
  ['attest: unknown session', () => call(`${base}/kbs/v0/attest`, 'POST', {}, { cookie: 'kbs-session-id=00000000000000000000000000000000' }), 401, 'AttestationError', /Unknown session/],
  ['attest: nonce mismatch', async () => { const s = await authed(); return attestBody(s.cookie, 'AAAA'); }, 401, 'AttestationError', /nonce/],
  ['attest: report_data bound to another nonce', async () => { const s = await authed(); return attestBody(s.cookie, s.nonce, teeKey(), 'other'); }, 401, 'AttestationError', /report_data/],
  ['attest: evidence for another key (swapped key)', async () => {
    const s = await authed(); const k1 = teeKey(); const k2 = teeKey();
    const rd = expectedReportData(s.nonce, k1.jwk, '', 'sha384');
    return call(`${base}/kbs/v0/attest`, 'POST', { 'runtime-data': { nonce: s.nonce, 'tee-pubkey': k2.jwk }, 'tee-evidence': { primary_evidence: { svn: '1', report_data: b64Encode(rd) }, additional_evidence: '' } }, { cookie: s.cookie });
  }, 401, 'AttestationError', /report_data/],
  ['attest: replayed attestation on an attested session', async () => {
    const s = await authed(); const k = teeKey();
    assert.equal((await attestBody(s.cookie, s.nonce, k)).status, 200);
    return attestBody(s.cookie, s.nonce, k);
  }, 401, 'AttestationError', /already attested/],
  ['attest: unknown field in runtime-data', async () => {
    const s = await authed();
    return call(`${base}/kbs/v0/attest`, 'POST', { 'runtime-data': { nonce: s.nonce, 'tee-pubkey': teeKey().jwk, x: 1 }, 'tee-evidence': { primary_evidence: {}, additional_evidence: '' } }, { cookie: s.cookie });
  }, 401, 'AttestationError', /Unknown field "runtime-data.x"/],
  ['resource: path with ..', () => raw('GET', '/kbs/v0/resource/default/../key'), 404, 'InvalidRequestPath'],
  ['resource: encoded slash', () => raw('GET', '/kbs/v0/resource/default/key%2F1/x'), 404, 'InvalidRequestPath'],
  ['resource: empty segment', () => raw('GET', '/kbs/v0/resource/default//1'), 404, 'InvalidRequestPath'],
  ['resource: encoded dot-dot', () => raw('GET', '/kbs/v0/resource/default/%2e%2e/1'), 404, 'InvalidRequestPath'],
  ['resource: four segments', () => raw('GET', '/kbs/v0/resource/a/b/c/d'), 404, 'InvalidRequestPath'],
  ['unknown plugin', () => raw('GET', '/kbs/v0/nope'), 404, 'PluginNotFound'],
  ['resource: no token', () => call(`${base}/kbs/v0/resource/default/key/1`, 'GET'), 401, 'TokenNotFound'],
  ['resource: garbage bearer token', () => call(`${base}/kbs/v0/resource/default/key/1`, 'GET', undefined, { authorization: 'Bearer a.b.c' }), 401, 'TokenVerifierError'],
  ['resource: token signed by another key', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const t = await new SignJWT({ 'tee-pubkey': teeKey().jwk }).setProtectedHeader({ alg: 'ES256' }).setExpirationTime('1h').sign(privateKey);
    return call(`${base}/kbs/v0/resource/default/key/1`, 'GET', undefined, { authorization: `Bearer ${t}` });
  }, 401, 'TokenVerifierError', /trusted key/],
  ['resource: not found', async () => { const s = await handshake(base, teeKey()); return call(`${base}/kbs/v0/resource/default/key/missing`, 'GET', undefined, { cookie: s.cookie }); }, 401, 'PluginInternalError', /not found/],
  ['resource: unattested session cookie', async () => { const s = await authed(); return call(`${base}/kbs/v0/resource/default/key/1`, 'GET', undefined, { cookie: s.cookie }); }, 401, 'TokenNotFound'],
  ['admin: no token', () => call(`${base}/kbs/v0/resource/default/key/2`, 'POST', 'x'), 401, 'AdminAuthAccess', /Bearer/],
  ['admin: expired token', async () => call(`${base}/kbs/v0/resource/default/key/2`, 'POST', 'x', { authorization: `Bearer ${await admin.token({ expiresIn: Math.floor(Date.now() / 1000) - 60 })}` }), 401, 'AdminAuthAccess', /expired/],
  ['admin: token without exp', async () => call(`${base}/kbs/v0/resource/default/key/2`, 'POST', 'x', { authorization: `Bearer ${await admin.token({ noExp: true })}` }), 401, 'AdminAuthAccess'],
  ['admin: token from another key', async () => call(`${base}/kbs/v0/resource-policy`, 'GET', undefined, { authorization: `Bearer ${await adminKeys().token()}` }), 401, 'AdminAuthAccess', /not signed/],
  ['admin: API disabled without --admin-key', async () => call(`${prodBase}/kbs/v0/resource-policy`, 'GET', undefined, await adminHdr()), 401, 'AdminAuthAccess', /disabled/],
  ['admin: bad RVPS message', async () => call(`${base}/kbs/v0/reference-value`, 'POST', { version: '0.1.0', type: 'sample', payload: '!!' }, await adminHdr()), 401, 'RvpsError'],
];

for (const [name, run, status, variant, detail] of cases) {
  test(`bad input: ${name} -> ${status} ${variant}`, async () => {
    assertError(await run(), status, variant, detail);
  });
}

test('ES256 admin token is accepted', async () => {
  const r = await call(`${base}/kbs/v0/resource-policy`, 'GET', undefined, { authorization: `Bearer ${await adminEc.token()}` });
  assert.equal(r.status, 200);
});

test('sessions and tokens expire on the KBS clock: KBS_SESSION_EXPIRED at /attest, AS_TOKEN_EXPIRED for a Bearer token past exp', async () => {
  let clock = Date.now();
  const short = await createKbsServer({ store: new MemoryStore(), adminKeys: [], devMode: true, sessionTimeoutSeconds: 60, tokenLifetimeSeconds: 120, now: () => clock });
  try {
    const b = await listen(short);
    await short.core.setResource(['default', 'key', '1'], new Uint8Array(Buffer.from('s3cret')));
    const [live, expired, direct] = [await authed(b), await authed(b), await authed(b)];
    clock += 60_000 - 1;
    assert.equal((await attestBody(live.cookie, live.nonce, teeKey(), live.nonce, b)).status, 200, 'live until its last millisecond');
    clock += 1;
    assertError(await attestBody(expired.cookie, expired.nonce, teeKey(), expired.nonce, b), 401, 'AttestationError', /expired/);
    const id = direct.cookie.split('=')[1];
    await assert.rejects(short.core.attest(id, new Uint8Array(Buffer.from('{}'))), (e) => hasCode(e, 'KBS_SESSION_EXPIRED'));

    const key = teeKey();
    const { token } = await handshake(b, key);
    const exp = (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { exp: number }).exp;
    clock = exp * 1000 - 1;
    assert.equal(Buffer.from(await getResource(b, 'default/key/1', key, { token })).toString(), 's3cret');
    clock = exp * 1000;
    assertError(await call(`${b}/kbs/v0/resource/default/key/1`, 'GET', undefined, { authorization: `Bearer ${token}` }), 401, 'TokenVerifierError', /expired/);
    await assert.rejects(short.core.getResource(token, ['default', 'key', '1'], {}), (e) => hasCode(e, 'AS_TOKEN_EXPIRED'));
  } finally {
    await short.close();
  }
});

test('healthz is 503 when the storage does not answer', async () => {
  class DownStore extends MemoryStore {
    override async ping(): Promise<void> {
      throw new Error('connection refused');
    }
  }
  const s = await createKbsServer({ store: new DownStore(), adminKeys: [] });
  try {
    const b = await listen(s);
    assert.equal((await call(`${b}/healthz`, 'GET')).status, 503);
  } finally {
    await s.close();
  }
});

test('a failed attestation ends the session: no second try against the same challenge', async () => {
  const s = await authed();
  const k = teeKey();
  assertError(await attestBody(s.cookie, s.nonce, k, 'other'), 401, 'AttestationError', /report_data/);
  assertError(await attestBody(s.cookie, s.nonce, k), 401, 'AttestationError', /Unknown session/);
});

test('the default body limit accepts several MB (TDX evidence with a CC event log)', async () => {
  const s = await createKbsServer({ store: new MemoryStore(), adminKeys: [], devMode: true });
  try {
    const b = await listen(s);
    const big = { version: '0.4.0', tee: 'sample', 'extra-params': { cc_eventlog: 'A'.repeat(6 * 1024 * 1024) } };
    assert.equal((await call(`${b}/kbs/v0/auth`, 'POST', big)).status, 200);
  } finally {
    await s.close();
  }
});
