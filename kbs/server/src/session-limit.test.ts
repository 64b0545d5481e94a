import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { KBS_PROTOCOL_VERSION, kbsErrorType } from '@kata-cc/kbs-types';
import { startPostgres, tempDir, type TestPostgres } from '@kata-cc/testing';
import { createKbsServer, type KbsServer } from './app.js';
import { AddressRateLimiter } from './rate-limit.js';
import { MemoryStore } from './storage/memory/memory-store.js';
import { PostgresStore } from './storage/postgres/postgres-store.js';
import { SqliteStore } from './storage/sqlite/sqlite-store.js';
import type { KbsStore, Session } from './storage/store.js';

let pg: TestPostgres | undefined;
let dir = '';
let cleanup: () => Promise<void> = async () => {};
const closers: Array<() => Promise<void>> = [];

before(async () => {
  const t = await tempDir('kbs-limit-');
  dir = t.dir;
  cleanup = t.cleanup;
  pg = await startPostgres();
});
after(async () => {
  for (const c of closers) await c().catch(() => {});
  await pg?.stop();
  await cleanup();
});

const session = (id: string, expiresAt: number): Session => ({ id, tee: 'sample', nonce: 'n', state: 'authed', expiresAt });

const backends: Array<[string, () => Promise<KbsStore>]> = [
  ['memory', async () => new MemoryStore()],
  ['sqlite', async () => new SqliteStore(path.join(dir, 'limit.db'))],
  ['postgres', async () => PostgresStore.open(await pg!.createDatabase('kbs_limit'))],
];

for (const [name, open] of backends) {
  test(`${name}: createSession with a limit refuses at maxLive live sessions; expired ones do not count and are swept`, async () => {
    const store = await open();
    closers.push(() => store.close());
    const now = Date.now();
    assert.equal(await store.createSession(session('old1', now - 1), { maxLive: 2, now }), true);
    assert.equal(await store.createSession(session('a', now + 60_000), { maxLive: 2, now }), true);
    assert.equal(await store.createSession(session('b', now + 60_000), { maxLive: 2, now }), true);
    assert.equal(await store.createSession(session('c', now + 60_000), { maxLive: 2, now }), false);
    assert.equal(await store.getSession('c'), undefined, 'a refused session is not stored');
    assert.equal(await store.countLiveSessions(now), 2);
    // Time passes: a and b expire, so the bound frees up.
    const later = now + 120_000;
    assert.equal(await store.createSession(session('d', later + 60_000), { maxLive: 2, now: later }), true);
    assert.equal(await store.countLiveSessions(later), 1);
    await store.deleteExpiredSessions(later);
    assert.equal(await store.countLiveSessions(now), 1, 'only d is left after the sweep');
    assert.equal(await store.getSession('a'), undefined);
    assert.equal(await store.getSession('old1'), undefined);
    assert.equal((await store.getSession('d'))?.id, 'd');
  });
}

async function auth(base: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; retryAfter: string | null }> {
  const r = await fetch(`${base}/kbs/v0/auth`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ version: KBS_PROTOCOL_VERSION, tee: 'sample', 'extra-params': '' }) });
  return { status: r.status, body: await r.text(), retryAfter: r.headers.get('retry-after') };
}

async function server(o: { maxSessions?: number; authRatePerMinute?: number; sessionTimeoutSeconds?: number; store?: KbsStore; now?: () => number }): Promise<[KbsServer, string]> {
  const s = await createKbsServer({ store: o.store ?? new MemoryStore(), adminKeys: [], devMode: true, ...o });
  closers.push(() => s.close());
  return [s, await s.app.listen({ host: '127.0.0.1', port: 0 })];
}

test('/auth over --max-sessions: 429 AttestationError {type, detail} with Retry-After and the kbs_auth_refused_total metric', async () => {
  const [s, base] = await server({ maxSessions: 3 });
  for (let i = 0; i < 3; i++) assert.equal((await auth(base)).status, 200);
  const r = await auth(base);
  assert.equal(r.status, 429, r.body);
  const e = JSON.parse(r.body) as { type: string; detail: string };
  assert.equal(e.type, kbsErrorType('AttestationError'));
  assert.match(e.detail, /maximum of 3 open handshake sessions/);
  assert.ok(Number(r.retryAfter) >= 1);
  const m = await s.metrics.registry.metrics();
  assert.match(m, /kbs_auth_refused_total\{reason="max_sessions"\} 1/);
});

test('SQLite: sessions that expire free the bound again (the store is swept)', async () => {
  const store = new SqliteStore(path.join(dir, 'expiry.db'));
  let clock = Date.now();
  const [, base] = await server({ maxSessions: 2, sessionTimeoutSeconds: 1, store, now: () => clock });
  assert.equal((await auth(base)).status, 200);
  assert.equal((await auth(base)).status, 200);
  assert.equal((await auth(base)).status, 429);
  clock += 999;
  assert.equal((await auth(base)).status, 429, 'both sessions still live 1 ms before they expire');
  clock += 1;
  assert.equal((await auth(base)).status, 200);
  assert.equal(await store.countLiveSessions(clock), 1);
});

test('/auth over --auth-rate from one address: 429 KBS_AUTH_RATE_LIMITED with Retry-After, metric reason="rate"', async () => {
  const [s, base] = await server({ authRatePerMinute: 2 });
  assert.equal((await auth(base)).status, 200);
  assert.equal((await auth(base)).status, 200);
  const r = await auth(base);
  assert.equal(r.status, 429, r.body);
  assert.equal((JSON.parse(r.body) as { type: string }).type, kbsErrorType('AttestationError'));
  assert.ok(Number(r.retryAfter) >= 1 && Number(r.retryAfter) <= 30, String(r.retryAfter));
  assert.match(await s.metrics.registry.metrics(), /kbs_auth_refused_total\{reason="rate"\} 1/);
});

test('AddressRateLimiter refills continuously, is per address, and bounds its memory', () => {
  const l = new AddressRateLimiter(60, 3);
  const t = 1_000_000;
  for (let i = 0; i < 60; i++) assert.equal(l.take('a', t), 0);
  assert.equal(l.take('a', t), 1);
  assert.equal(l.take('b', t), 0, 'another address has its own bucket');
  assert.equal(l.take('a', t + 1000), 0, 'one token per second at 60/min');
  assert.ok(l.take('a', t + 1000) > 0);
  for (const x of ['c', 'd', 'e', 'f']) assert.equal(l.take(x, t + 1000), 0);
});
