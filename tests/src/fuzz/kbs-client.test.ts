/**
 * Fuzz: the guest's KBS client (@kata-cc/kbs-client, what the AA and CDH use) against a hostile
 * KBS. A loopback HTTP server plays the protocol correctly (challenge, token, a JWE encrypted
 * to the TEE key the client sent) and then corrupts one stage per input: status code, headers
 * or the JSON body (structural/byte mutations, garbage). getResource must return the resource
 * or fail with a KBC_/KBS_ KccError, in time; never another exception type.
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import fc from 'fast-check';
import { KbsClient } from '@kata-cc/kbs-client';
import { SampleAttester } from '@kata-cc/attester';
import { encryptToTeeKey } from '@kata-cc/kbs';
import type { TeePubKey } from '@kata-cc/kbs-types';
import { expectKcc, fuzz, test, within } from './budget.js';
import { jsonMutant, type Json } from './json-mutant.js';

type Stage = 'auth' | 'attest' | 'resource' | 'none';
interface Corruption { stage: Stage; status: number; body: Uint8Array | undefined; cookie: boolean }
let corruption: Corruption = { stage: 'none', status: 200, body: undefined, cookie: true };
let teeKey: TeePubKey | undefined;
const enc = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
const TOKEN = `${enc({ alg: 'ES256', typ: 'JWT' })}.${enc({ exp: Math.floor(Date.now() / 1000) + 3600, tee: 'sample' })}.${Buffer.alloc(64).toString('base64url')}`;
const SECRET = new Uint8Array(Buffer.from('fuzz-secret'));

let kbs: Server;
let url = '';
before(async () => {
  kbs = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const stage: Stage = req.url === '/kbs/v0/auth' ? 'auth' : req.url === '/kbs/v0/attest' ? 'attest' : 'resource';
      let body: unknown;
      if (stage === 'auth') body = { nonce: Buffer.alloc(32, 7).toString('base64'), 'extra-params': '' };
      else if (stage === 'attest') {
        try {
          teeKey = (JSON.parse(Buffer.concat(chunks).toString()) as { 'runtime-data': { 'tee-pubkey': TeePubKey } })['runtime-data']['tee-pubkey'];
        } catch {
          teeKey = undefined;
        }
        body = { token: TOKEN };
      } else body = teeKey ? encryptToTeeKey(teeKey, SECRET) : {};
      const c = corruption;
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (stage !== 'resource' && (c.stage !== stage || c.cookie)) headers['set-cookie'] = `kbs-session-id=${'ab'.repeat(16)}; Expires=${new Date(Date.now() + 60_000).toUTCString()}`;
      if (c.stage === stage) res.writeHead(c.status, headers).end(c.body === undefined ? JSON.stringify(body) : Buffer.from(c.body));
      else res.writeHead(200, headers).end(JSON.stringify(body));
    });
  });
  await new Promise<void>((r) => kbs.listen(0, '127.0.0.1', r));
  const a = kbs.address();
  url = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
});
after(async () => {
  kbs.closeAllConnections();
  await new Promise<void>((r) => kbs.close(() => r()));
});

async function get(): Promise<string> {
  const c = new KbsClient({ url, handshakeAttempts: 1, handshakeRetryDelayMs: 1, timeoutMs: 3000 }, { attester: new SampleAttester() });
  try {
    const r = await within(10_000, 'getResource', c.getResource('kbs:///default/fuzz/1'));
    assert.deepEqual(new Uint8Array(r), SECRET, 'a resource other than the one sent was returned');
    return 'resource';
  } catch (e) {
    return expectKcc(e, /^(KBC|KBS)_/, 'getResource').code;
  } finally {
    await c.close();
  }
}

test('sanity: the honest fake KBS serves the resource', async () => {
  corruption = { stage: 'none', status: 200, body: undefined, cookie: true };
  assert.equal(await get(), 'resource');
});

test('fuzz: a hostile KBS corrupts the challenge, the token answer or the JWE', async () => {
  const sampleJwe = encryptToTeeKey({ kty: 'EC', crv: 'P-256', alg: 'ECDH-ES+A256KW', x: 'gI0GAILBdu7T53akrFmMyGcsF3n5dO7MmwNBHKW5SV0', y: 'SLW_xSffzlPWrHEVI30DHM_4egVwt3NQqeUD7nMFpps' }, SECRET) as unknown as Json;
  const bodies: Record<Exclude<Stage, 'none'>, fc.Arbitrary<Uint8Array>> = {
    auth: jsonMutant({ nonce: Buffer.alloc(32, 7).toString('base64'), 'extra-params': '' }),
    attest: jsonMutant({ token: TOKEN }),
    resource: jsonMutant(sampleJwe),
  };
  const corruptionArb = fc.oneof(...(['auth', 'attest', 'resource'] as const).map((stage) =>
    fc.record({
      stage: fc.constant(stage as Stage),
      status: fc.constantFrom(200, 200, 200, 200, 401, 404, 500, 302),
      body: fc.option(bodies[stage], { nil: undefined, freq: 8 }),
      cookie: fc.boolean(),
    })));
  await fuzz('kbs-client/hostile KBS', [corruptionArb], (c) => {
    corruption = c;
    return get();
  }, { runs: 250, seconds: 4 });
});
