import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { FlattenedEncrypt, importJWK } from 'jose';
import { SampleAttester } from '@kata-cc/attester';
import { hasCode } from '@kata-cc/errors';
import { expectedReportData, parseAttestation, type TeePubKey } from '@kata-cc/kbs-types';
import { KbsClient } from './client.js';
import { TeeKeyPair } from './tee-key.js';

/**
 * A scripted fake KBS (not trustee): it checks the binding the real KBS checks and lets each test
 * script failures (401s, 5xx) that a real KBS produces only under load or expiry. The real-KBS
 * loop is tests/src/kbs-loop.test.ts.
 */
function fakeKbs(script: { failAuth?: number; resource401?: number; tokenTtlS?: number } = {}) {
  const state = { auths: 0, attests: 0, gets: 0, nonce: '', pubkey: undefined as TeePubKey | undefined, initData: undefined as unknown, bearer: [] as string[] };
  const sessionId = randomBytes(16).toString('hex');
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => void handle(req, res, Buffer.concat(chunks).toString()));
  });
  const err = (res: ServerResponse, status: number, variant: string) => {
    res.writeHead(status).end(JSON.stringify({ type: `https://github.com/confidential-containers/kbs/errors/${variant}`, detail: `fake ${variant}` }));
  };
  async function handle(req: IncomingMessage, res: ServerResponse, body: string): Promise<void> {
    if (req.url === '/kbs/v0/auth') {
      state.auths++;
      if (state.auths <= (script.failAuth ?? 0)) return err(res, 503, 'HTTPFailed');
      state.nonce = randomBytes(32).toString('base64');
      res.writeHead(200, { 'set-cookie': `kbs-session-id=${sessionId}; Expires=${new Date(Date.now() + 300_000).toUTCString()}` });
      // A field a newer KBS might add must not break the client.
      return void res.end(JSON.stringify({ nonce: state.nonce, 'extra-params': '', 'future-field': 1 }));
    }
    if (req.url === '/kbs/v0/attest') {
      state.attests++;
      if (req.headers.cookie !== `kbs-session-id=${sessionId}`) return err(res, 401, 'TokenNotFound');
      const att = parseAttestation(JSON.parse(body));
      const ev = att['tee-evidence'].primary_evidence as { report_data: string };
      const want = expectedReportData(state.nonce, att['runtime-data']['tee-pubkey'], '', 'sha384');
      if (att['runtime-data'].nonce !== state.nonce || Buffer.compare(Buffer.from(ev.report_data, 'base64'), want) !== 0) return err(res, 401, 'AttestationError');
      state.pubkey = att['runtime-data']['tee-pubkey'];
      state.initData = att['init-data'];
      const claims = Buffer.from(JSON.stringify({ exp: Math.floor(Date.now() / 1000) + (script.tokenTtlS ?? 300) })).toString('base64url');
      return void res.writeHead(200).end(JSON.stringify({ token: `eyJhbGciOiJFUzI1NiJ9.${claims}.c2ln` }));
    }
    if (req.url === '/kbs/v0/resource/default/big/1') {
      res.writeHead(200);
      const chunk = Buffer.alloc(64 * 1024, 0x41);
      for (let i = 0; i < 32; i++) res.write(chunk);
      return void res.end();
    }
    if (req.url?.startsWith('/kbs/v0/resource/')) {
      state.gets++;
      if (typeof req.headers.authorization === 'string') state.bearer.push(req.headers.authorization);
      if (state.gets <= (script.resource401 ?? 0)) return err(res, 401, 'TokenNotFound');
      if (req.url !== '/kbs/v0/resource/default/key/1') return err(res, 404, 'InvalidRequestPath');
      const pk = state.pubkey!;
      const alg = pk.kty === 'RSA' ? 'RSA-OAEP-256' : 'ECDH-ES+A256KW';
      const jwe = await new FlattenedEncrypt(Buffer.from('s3cret')).setProtectedHeader({ alg, enc: 'A256GCM' }).encrypt(await importJWK(pk, alg));
      return void res.writeHead(200).end(JSON.stringify(jwe));
    }
    err(res, 404, 'InvalidRequestPath');
  }
  return new Promise<{ url: string; state: typeof state; close: () => Promise<void> }>((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({ url: `http://127.0.0.1:${port}`, state, close: () => new Promise((r) => server.close(() => r())) });
    });
  });
}

const clients: KbsClient[] = [];
after(async () => {
  for (const c of clients) await c.close();
});
function client(url: string, extra: Partial<ConstructorParameters<typeof KbsClient>[0]> = {}, now?: () => number): KbsClient {
  const c = new KbsClient({ url, handshakeRetryDelayMs: 1, ...extra }, { attester: new SampleAttester(), ...(now ? { now } : {}) });
  clients.push(c);
  return c;
}

test('KbsClient.getResource() attests with bound report data and decrypts the resource (fake KBS)', async (t) => {
  for (const alg of ['ECDH-ES+A256KW-P256', 'ECDH-ES+A256KW-P521', 'RSA-OAEP-256'] as const) {
    const kbs = await fakeKbs();
    t.after(kbs.close);
    const c = client(kbs.url, { teeKeyAlgorithm: alg, initData: 'version = "0.1.0"\n' });
    assert.equal(Buffer.from(await c.getResource('kbs:///default/key/1')).toString(), 's3cret');
    assert.deepEqual(kbs.state.initData, { format: 'toml', body: 'version = "0.1.0"\n' });
    // The token is cached: a second resource needs no new handshake.
    await c.getResource('default/key/1');
    assert.equal(kbs.state.auths, 1);
  }
});

test('KbsClient retries the handshake 5 times like the Rust client (fake KBS)', async (t) => {
  const kbs = await fakeKbs({ failAuth: 4 });
  t.after(kbs.close);
  await client(kbs.url).attest();
  assert.equal(kbs.state.auths, 5);
  const kbs2 = await fakeKbs({ failAuth: 5 });
  t.after(kbs2.close);
  await assert.rejects(client(kbs2.url).attest(), (e) => hasCode(e, 'KBC_AUTH_FAILED') && /HTTPFailed/.test((e as Error).message));
});

test('KbsClient.getResource() re-attests on 401, at most 3 attempts (fake KBS)', async (t) => {
  const kbs = await fakeKbs({ resource401: 2 });
  t.after(kbs.close);
  assert.equal(Buffer.from(await client(kbs.url).getResource('kbs:///default/key/1')).toString(), 's3cret');
  assert.equal(kbs.state.attests, 3);
  const kbs2 = await fakeKbs({ resource401: 3 });
  t.after(kbs2.close);
  await assert.rejects(client(kbs2.url).getResource('kbs:///default/key/1'), (e) => hasCode(e, 'KBC_UNAUTHORIZED'));
  assert.equal(kbs2.state.gets, 3);
});

test('KbsClient.getResource() maps 404 and bad URIs to stable codes (fake KBS)', async (t) => {
  const kbs = await fakeKbs();
  t.after(kbs.close);
  const c = client(kbs.url);
  await assert.rejects(c.getResource('kbs:///default/key/2'), (e) => hasCode(e, 'KBC_RESOURCE_NOT_FOUND'));
  await assert.rejects(c.getResource('kbs:///default/../key'), (e) => hasCode(e, 'KBC_INVALID_RESOURCE_URI'));
  await assert.rejects(c.getResource('kbs:///default/key'), (e) => hasCode(e, 'KBC_INVALID_RESOURCE_URI'));
  await assert.rejects(c.getResource('http://x/default/key/1'), (e) => hasCode(e, 'KBC_INVALID_RESOURCE_URI'));
});

test('KbsClient.getToken() caches the token until it expires (fake KBS)', async (t) => {
  const kbs = await fakeKbs({ tokenTtlS: 60 });
  t.after(kbs.close);
  let now = Date.now();
  const c = client(kbs.url, {}, () => now);
  const a = await c.getToken();
  assert.equal((await c.getToken()).token, a.token);
  assert.equal(kbs.state.auths, 1);
  now += 61_000;
  await c.getToken();
  assert.equal(kbs.state.auths, 2);
});

test('KbsClient in passport mode sends the Bearer token and asks the source again on 401 (fake KBS)', async (t) => {
  const kbs = await fakeKbs({ resource401: 1 });
  t.after(kbs.close);
  // Attest once with a background-check client to obtain a token bound to `key`.
  const key = TeeKeyPair.generate();
  const issuer = client(kbs.url, { teeKey: key });
  let calls = 0;
  const passport = new KbsClient({ url: kbs.url }, { tokenSource: async () => ({ token: (calls++, await issuer.attest()), teeKey: key }) });
  clients.push(passport);
  assert.equal(Buffer.from(await passport.getResource('kbs:///default/key/1')).toString(), 's3cret');
  assert.equal(calls, 2);
  assert.ok(kbs.state.bearer.every((h) => h.startsWith('Bearer ')) && kbs.state.bearer.length === 2);
});

test('KbsClient() refuses a config with neither or both of attester and token source', () => {
  assert.throws(() => new KbsClient({ url: 'http://x' }, {}), (e) => hasCode(e, 'KBC_INVALID_CONFIG'));
  assert.throws(() => new KbsClient({ url: 'ftp://x' }, { attester: new SampleAttester() }), (e) => hasCode(e, 'KBC_INVALID_CONFIG'));
  // IBM SE has no room for device evidence (trustee: "Cannot attest multiple devices on s390x").
  const se = { tee: 'se' as const, getEvidence: async () => ({}) };
  assert.throws(() => new KbsClient({ url: 'http://x' }, { attester: se, additionalAttesters: [new SampleAttester()] }), (e) => hasCode(e, 'KBC_INVALID_CONFIG') && /additional device evidence/.test((e as Error).message));
});

test('KbsClient refuses a KBS reply larger than maxReplyBytes (fake KBS)', async (t) => {
  const kbs = await fakeKbs();
  t.after(kbs.close);
  await assert.rejects(client(kbs.url, { maxReplyBytes: 1024 * 1024 }).getResource('kbs:///default/big/1'), (e) => hasCode(e, 'KBC_PROTOCOL_ERROR') && /exceeds 1048576 bytes/.test((e as Error).message));
});

test('KbsClient lets an attester build its report data from the challenge (IBM SE style, fake attester)', async (t) => {
  const kbs = await fakeKbs();
  t.after(kbs.close);
  const seen: string[] = [];
  const sample = new SampleAttester();
  const attester = {
    tee: 'sample' as const,
    reportDataForChallenge: async (nonce: string, digest: Uint8Array) => {
      seen.push(nonce);
      return digest;
    },
    getEvidence: (rd: Uint8Array) => sample.getEvidence(rd),
  };
  const c = new KbsClient({ url: kbs.url, handshakeRetryDelayMs: 1 }, { attester });
  clients.push(c);
  await c.attest();
  assert.deepEqual(seen, [kbs.state.nonce]);
});
