/**
 * Fuzz: the KBS's JSON endpoints over HTTP. The real server (fastify app from @kata-cc/kbs,
 * memory storage, sample TEE allowed) listens on a loopback port; garbage and mutated valid
 * bodies go to /kbs/v0/auth, /attest, the admin endpoints and resource paths. Every answer
 * must come in time, with a documented status, and (if not 200) as `{type, detail}` with a
 * KBS error type; no answer or log line may carry a stack, the stored secret or the admin
 * token; an unexpected exception (logged as KBS_INTERNAL) fails the property.
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import fc from 'fast-check';
import { createKbsServer, MemoryStore, type KbsServer } from '@kata-cc/kbs';
import { b64Encode, expectedReportData, KBS_ERROR_TYPE_PREFIX, KBS_PROTOCOL_VERSION, type TeePubKey } from '@kata-cc/kbs-types';
import { readFileSync } from 'node:fs';
import { sharedDir } from '@kata-cc/testing';
import { fuzz, mutate, mutationArb, test, within } from './budget.js';
import { jsonMutant, type Json } from './json-mutant.js';

const SECRET = `TOPSECRET-${randomBytes(12).toString('hex')}`;
const admin = generateKeyPairSync('ed25519');
const logs: { level: string; obj: unknown; msg: string | undefined }[] = [];
const capture = (level: string) => (obj: unknown, msg?: string): void => {
  logs.push({ level, obj, msg });
};
const logger = {
  trace: capture('trace'), debug: capture('debug'), info: capture('info'), warn: capture('warn'), error: capture('error'), fatal: capture('fatal'),
  child: () => logger,
};

let kbs: KbsServer;
let base: URL;

function adminToken(): string {
  const enc = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const input = `${enc({ alg: 'EdDSA', typ: 'JWT' })}.${enc({ iat: now, exp: now + 3600 })}`;
  return `${input}.${sign(null, Buffer.from(input), admin.privateKey).toString('base64url')}`;
}
const TOKEN = adminToken();

interface Answer {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

function send(method: string, path: string, body: Uint8Array | undefined, headers: Record<string, string> = {}): Promise<Answer> {
  return within(10_000, `${method} ${path}`, new Promise((resolve, reject) => {
    const req = httpRequest({ host: base.hostname, port: base.port, method, path, headers: { ...headers, ...(body ? { 'content-length': String(body.length) } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : Buffer.from(body));
  }));
}

/** The invariants every answer keeps; returns the outcome (status and error type) for the tally. */
function check(a: Answer, allowed: readonly number[], what: string): string {
  assert.ok(allowed.includes(a.status), `${what}: status ${a.status} not in ${allowed.join('/')}: ${a.body.slice(0, 300)}`);
  assert.ok(!a.body.includes(SECRET), `${what}: the stored secret leaked in an answer`);
  assert.ok(!a.body.includes(TOKEN), `${what}: the admin token leaked in an answer`);
  if (a.status === 200) return '200';
  const e = JSON.parse(a.body) as { type?: unknown; detail?: unknown };
  assert.equal(typeof e.type, 'string', `${what}: error without type: ${a.body}`);
  assert.equal(typeof e.detail, 'string', `${what}: error without detail: ${a.body}`);
  assert.ok((e.type as string).startsWith(KBS_ERROR_TYPE_PREFIX), `${what}: unknown error type ${String(e.type)}`);
  assert.doesNotMatch(e.detail as string, /\n\s+at |node_modules|\.js:\d+/, `${what}: stack trace in the answer`);
  assert.notEqual(e.detail, 'Internal error', `${what}: unexpected exception inside the KBS`);
  return `${a.status}:${(e.type as string).slice(KBS_ERROR_TYPE_PREFIX.length)}`;
}

function checkLogs(what: string): void {
  for (const l of logs.splice(0)) {
    const text = `${JSON.stringify(l.obj)} ${l.msg ?? ''}`;
    assert.ok(!text.includes(SECRET), `${what}: the secret reached the log`);
    assert.ok(!text.includes(TOKEN), `${what}: the admin token reached the log`);
    assert.ok(!text.includes('KBS_INTERNAL'), `${what}: unexpected exception inside the KBS: ${text.slice(0, 500)}`);
  }
}

before(async () => {
  kbs = await createKbsServer({
    store: new MemoryStore(), adminKeys: [admin.publicKey.export({ format: 'pem', type: 'spki' }).toString()], devMode: true, bodyLimitBytes: 64 * 1024, logger,
    // Real TDX quotes are checked offline (no PCCS here); debug TDs allowed so the seeds reach the binding check.
    verifier: { tees: { tdx: { allowMissingCollateral: true, allowDebug: true } } },
  });
  base = new URL(await kbs.app.listen({ host: '127.0.0.1', port: 0 }));
  const r = await send('POST', '/kbs/v0/resource/default/fuzz/secret', new Uint8Array(Buffer.from(SECRET)), { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/octet-stream' });
  assert.equal(r.status, 200, r.body);
});
after(async () => {
  await kbs?.close();
});

const validRequest: Json = { version: KBS_PROTOCOL_VERSION, tee: 'sample', 'extra-params': '' };
const teeJwk = (): TeePubKey => {
  const j = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
  return { kty: 'EC', crv: 'P-256', alg: 'ECDH-ES+A256KW', x: String(j.x), y: String(j.y) };
};
const JWK = teeJwk();
const contentType = fc.constantFrom('application/json', 'text/plain', 'application/octet-stream', '', 'application/json; charset=utf-16', 'multipart/form-data; boundary=x');
const ct = (c: string): Record<string, string> => (c === '' ? {} : { 'content-type': c });

test('sanity: a valid handshake succeeds, so refusals below are about the input', async () => {
  const a = await send('POST', '/kbs/v0/auth', new Uint8Array(Buffer.from(JSON.stringify(validRequest))), { 'content-type': 'application/json' });
  assert.equal(a.status, 200, a.body);
  checkLogs('sanity');
});

test('fuzz: POST /kbs/v0/auth with garbage and mutated Request bodies', async () => {
  await fuzz('kbs/auth', [jsonMutant(validRequest), contentType], async (body, c) => {
    const out = check(await send('POST', '/kbs/v0/auth', body, ct(c)), [200, 401], 'auth');
    checkLogs('auth');
    return out;
  }, { runs: 300, seconds: 4 });
});

/** A fresh session, and the valid attestation for its nonce (mutated by the property). */
async function session(): Promise<{ cookie: string; attestation: Json }> {
  const a = await send('POST', '/kbs/v0/auth', new Uint8Array(Buffer.from(JSON.stringify(validRequest))), { 'content-type': 'application/json' });
  const cookie = /kbs-session-id=[0-9a-f]+/.exec(String(a.headers['set-cookie']))?.[0] ?? '';
  const nonce = (JSON.parse(a.body) as { nonce: string }).nonce;
  const rd = expectedReportData(nonce, JWK, '', 'sha384');
  return {
    cookie,
    attestation: {
      'init-data': null,
      'runtime-data': { nonce, 'tee-pubkey': JWK as unknown as Json },
      'tee-evidence': { primary_evidence: { svn: '1', report_data: b64Encode(rd) }, additional_evidence: '' },
    },
  };
}

test('fuzz: POST /kbs/v0/attest with mutated attestations in a live session, and bad cookies', async () => {
  // Sanity: the unmutated attestation is accepted.
  const ok = await session();
  const r = await send('POST', '/kbs/v0/attest', new Uint8Array(Buffer.from(JSON.stringify(ok.attestation))), { 'content-type': 'application/json', cookie: ok.cookie });
  assert.equal(r.status, 200, r.body);
  // The mutation is drawn against a template; each run rebinds it to a fresh session's nonce.
  const template = (await session()).attestation;
  const nonceOf = (att: Json): string => ((att as Record<string, Record<string, string>>)['runtime-data']!)['nonce']!;
  const reportDataOf = (att: Json): string => ((att as Record<string, Record<string, Record<string, string>>>)['tee-evidence']!)['primary_evidence']!['report_data']!;
  const templateNonce = nonceOf(template);
  const templateRd = reportDataOf(template);
  await fuzz('kbs/attest', [jsonMutant(template), fc.constantFrom('valid', 'none', 'garbage', 'stale')], async (body, cookieKind) => {
    const s = await session();
    const bound = Buffer.from(Buffer.from(body).toString('utf8').replaceAll(templateNonce, nonceOf(s.attestation)).replaceAll(templateRd, reportDataOf(s.attestation)));
    const cookie = cookieKind === 'valid' ? s.cookie : cookieKind === 'garbage' ? `kbs-session-id=${randomBytes(8).toString('hex')};;=` : cookieKind === 'stale' ? 'kbs-session-id=00000000000000000000000000000000' : undefined;
    const out = check(await send('POST', '/kbs/v0/attest', new Uint8Array(bound), { 'content-type': 'application/json', ...(cookie ? { cookie } : {}) }), [200, 401], 'attest');
    checkLogs('attest');
    return out;
  }, { runs: 200, seconds: 4 });
});

const segment = fc.oneof(
  fc.constantFrom('default', 'fuzz', 'secret', '..', '.', '%2e%2e', '%2F', '%5c', '%00', '%', '%zz', '', 'a\\b', '~', '%E2%82%AC', 'resource', 'auth'),
  fc.string({ maxLength: 8 }).map(encodeURIComponent),
);
const plugin = fc.constantFrom('auth', 'attest', 'resource', 'resource-policy', 'attestation-policy', 'reference-value', 'nope', '', '..', 'RESOURCE');
const method = fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS');

test('fuzz: random methods and paths under /kbs/v0 (with and without admin or session credentials)', async () => {
  await fuzz('kbs/paths', [method, plugin, fc.array(segment, { maxLength: 4 }), fc.option(fc.string({ maxLength: 20 }).map(encodeURIComponent), { nil: undefined }), fc.constantFrom('none', 'admin', 'garbage')], async (m, p, rest, query, auth) => {
    const path = `/kbs/v0/${[p, ...rest].join('/')}${query === undefined ? '' : `?${query}`}`;
    const headers: Record<string, string> = auth === 'admin' ? { authorization: `Bearer ${TOKEN}` } : auth === 'garbage' ? { authorization: `Bearer ${randomBytes(20).toString('base64url')}.x.y` } : {};
    // A write that passes admin checks must not clobber the secret (its path is never drawn whole).
    const body = m === 'POST' || m === 'PUT' ? new Uint8Array(Buffer.from('{}')) : undefined;
    const a = await send(m, path, body, body ? { ...headers, 'content-type': 'application/json' } : headers);
    if (m === 'HEAD') {
      assert.ok([200, 401, 404].includes(a.status), `${m} ${path}: ${a.status}`);
      checkLogs(path);
      return `${a.status}`;
    }
    const out = check(a, [200, 401, 404], `${m} ${path}`);
    // 200 without credentials is only possible for reads that need none.
    if (a.status === 200 && auth !== 'admin') assert.ok(m === 'POST' && (p === 'auth'), `${m} ${path} answered 200 without credentials: ${a.body.slice(0, 200)}`);
    checkLogs(path);
    return out;
  }, { runs: 400, seconds: 4 });
});

test('fuzz: admin endpoints with a valid admin token and garbage or mutated bodies', async () => {
  const policy = { policy: Buffer.from('package policy\ndefault allow = false\n').toString('base64url') } as Json;
  const attPolicy = { policy_id: 'default_cpu', type: 'rego', policy: Buffer.from('package policy\ndefault allow := false\n').toString('base64url') } as Json;
  const rv = { version: '0.1.0', type: 'sample', payload: JSON.stringify({ 'test-binary-1': ['3.0'] }) } as Json;
  const targets = fc.oneof(...[
    { path: '/kbs/v0/resource-policy', valid: policy },
    { path: '/kbs/v0/attestation-policy', valid: attPolicy },
    { path: '/kbs/v0/reference-value', valid: rv },
    { path: '/kbs/v0/resource/default/fuzz/other', valid: { any: 'bytes' } as Json },
  ].map((t) => fc.tuple(fc.constant(t.path), jsonMutant(t.valid))));
  await fuzz('kbs/admin', [targets, contentType], async ([path, body], c) => {
    const out = check(await send('POST', path, body, { authorization: `Bearer ${TOKEN}`, ...ct(c) }), [200, 401], `POST ${path}`);
    checkLogs(path);
    return `${path.split('/')[3]}:${out}`;
  }, { runs: 300, seconds: 5 });
  // The KBS still serves: a fresh handshake works and the admin API still reads.
  const a = await send('POST', '/kbs/v0/auth', new Uint8Array(Buffer.from(JSON.stringify(validRequest))), { 'content-type': 'application/json' });
  assert.equal(a.status, 200, a.body);
  const g = await send('GET', '/kbs/v0/resource-policy', undefined, { authorization: `Bearer ${TOKEN}` });
  assert.equal(g.status, 200, g.body);
  checkLogs('after');
});

test('fuzz: oversized bodies get 413 with {type, detail}', async () => {
  await fuzz('kbs/oversize', [fc.constantFrom('/kbs/v0/auth', '/kbs/v0/attest', '/kbs/v0/resource-policy'), fc.integer({ min: 64 * 1024 + 1, max: 200 * 1024 })], async (path, n) => {
    const out = check(await send('POST', path, new Uint8Array(n).fill(0x7b), { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }), [413], `oversize ${path}`);
    checkLogs('oversize');
    return out;
  }, { runs: 20, seconds: 3 });
});

test('fuzz: POST /kbs/v0/attest with mutated real TDX quotes in a tdx session (KBS -> AS -> verifier)', async () => {
  const quote = new Uint8Array(readFileSync(sharedDir('vectors', 'trustee/deps/verifier/test_data/tdx_quote_4.dat')));
  const tdxRequest = new Uint8Array(Buffer.from(JSON.stringify({ version: KBS_PROTOCOL_VERSION, tee: 'tdx', 'extra-params': '' })));
  await fuzz('kbs/attest tdx evidence', [fc.oneof({ weight: 1, arbitrary: fc.constant(quote) }, { weight: 6, arbitrary: mutationArb(quote.length).map((ms) => mutate(quote, ms)) })], async (q) => {
    const a = await send('POST', '/kbs/v0/auth', tdxRequest, { 'content-type': 'application/json' });
    const cookie = /kbs-session-id=[0-9a-f]+/.exec(String(a.headers['set-cookie']))?.[0] ?? '';
    const nonce = (JSON.parse(a.body) as { nonce: string }).nonce;
    const body = { 'init-data': null, 'runtime-data': { nonce, 'tee-pubkey': JWK }, 'tee-evidence': { primary_evidence: { quote: Buffer.from(q).toString('base64'), cc_eventlog: null }, additional_evidence: '' } };
    // The quote never binds this session's nonce: 401 whatever the mutation.
    check(await send('POST', '/kbs/v0/attest', new Uint8Array(Buffer.from(JSON.stringify(body))), { 'content-type': 'application/json', cookie }), [401], 'attest tdx');
    // The KBS's log line carries the stable code: shows how deep the mutated quote got.
    const code = logs.map((l) => (l.obj as { code?: unknown } | undefined)?.code).find((c) => typeof c === 'string');
    checkLogs('attest tdx');
    return String(code);
  }, { runs: 100, seconds: 4 });
});
