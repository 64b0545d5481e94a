/**
 * /auth for `se` answers trustee's supplemental challenge: the nonce is the SE verifier's JSON
 * SeAttestationRequest (sample host key and image header: no IBM Z here), with SHA-512 selected
 * when the client lists it (trustee's hash negotiation).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { KBS_PROTOCOL_VERSION, kbsErrorType } from '@kata-cc/kbs-types';
import { requireTool, tempDir } from '@kata-cc/testing';
import { createKbsServer, type KbsServer } from './app.js';
import { MemoryStore } from './storage/memory/memory-store.js';

let tmp: { dir: string; cleanup: () => Promise<void> };
const servers: KbsServer[] = [];
before(async () => {
  tmp = await tempDir('kbs-se-');
});
after(async () => {
  for (const s of servers) await s.close();
  await tmp.cleanup();
});

const CLIENT_HASHES = { 'supported-hash-algorithms': ['sha256', 'sha384', 'sha512', 'sm3'] };

async function auth(base: string, extra: unknown = CLIENT_HASHES): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(`${base}/kbs/v0/auth`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ version: KBS_PROTOCOL_VERSION, tee: 'se', 'extra-params': extra }) });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

test('sample SE config: /auth nonce is a SeAttestationRequest JSON and sha512 is selected; without SE config /auth refuses clearly', async () => {
  requireTool('openssl');
  const d = tmp.dir;
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:secp521r1', '-nodes', '-keyout', path.join(d, 'host.key'), '-out', path.join(d, 'hkd.crt'), '-subj', '/CN=sample', '-days', '1'], { stdio: 'ignore' });
  const hdr = Buffer.alloc(0x280);
  hdr.write('IBMSecEx', 0, 'latin1');
  hdr.writeUInt32BE(0x100, 8);
  hdr.writeUInt32BE(0x280, 12);
  writeFileSync(path.join(d, 'hdr.bin'), hdr);
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  const se = { measurementKeyPrivate: rsa, hostKeyDocuments: [path.join(d, 'hkd.crt')], imageHeader: path.join(d, 'hdr.bin'), skipHkdVerification: true };
  const s = await createKbsServer({ store: new MemoryStore(), adminKeys: [], verifier: { tees: { se } } });
  servers.push(s);
  const r = await auth(await s.app.listen({ host: '127.0.0.1', port: 0 }));
  assert.equal(r.status, 200);
  assert.deepEqual(r.body['extra-params'], { 'selected-hash-algorithm': 'sha512' });
  const req = JSON.parse(String(r.body['nonce'])) as Record<string, unknown>;
  assert.ok(typeof req['request_blob'] === 'string' && (req['request_blob'] as string).length > 400);
  assert.equal(req['measurement_size'], 64);

  // trustee's generate_extra_params: no list (an older client) -> ""; a list without sha512 or
  // not an array -> /auth refused with the reason, before any session exists.
  const base = `http://127.0.0.1:${(s.app.server.address() as { port: number }).port}`;
  assert.equal((await auth(base, '')).body['extra-params'], '');
  assert.equal((await auth(base, { other: 1 })).body['extra-params'], '');
  for (const bad of [{ 'supported-hash-algorithms': ['sha384'] }, { 'supported-hash-algorithms': 'sha512' }]) {
    const r = await auth(base, bad);
    assert.equal(r.status, 401);
    assert.equal(r.body['type'], kbsErrorType('AttestationError'));
    assert.match(String(r.body['detail']), /sha512|must be an array/);
  }

  const bare = await createKbsServer({ store: new MemoryStore(), adminKeys: [] });
  servers.push(bare);
  const refused = await auth(await bare.app.listen({ host: '127.0.0.1', port: 0 }));
  assert.equal(refused.status, 401);
  assert.equal(refused.body['type'], kbsErrorType('AttestationError'));
  assert.match(String(refused.body['detail']), /SE challenge needs/);
});
