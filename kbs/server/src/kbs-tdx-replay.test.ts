import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { sharedDir } from '@kata-cc/testing';
import { kbsErrorType } from '@kata-cc/kbs-types';
import { createKbsServer } from './app.js';
import { MemoryStore } from './storage/memory/memory-store.js';
import { call, teeKey } from './test-client.js';

// A real TDX quote (trustee's test vector) replayed to our KBS: the quote verifies as a TDX
// quote, but its REPORTDATA cannot bind this session's nonce and key, so /attest refuses it.
// (The vector is a debug TD without collateral here, so those two checks are relaxed.)
test('a real TDX quote replayed to the KBS is refused: its report_data does not bind the session', async () => {
  const s = await createKbsServer({ store: new MemoryStore(), adminKeys: [], verifier: { tees: { tdx: { allowMissingCollateral: true, allowDebug: true } } } });
  try {
    const base = await s.app.listen({ host: '127.0.0.1', port: 0 });
    const a = await call(`${base}/kbs/v0/auth`, 'POST', { version: '0.4.0', tee: 'tdx', 'extra-params': '' });
    assert.equal(a.status, 200, a.body);
    const nonce = (a.json() as { nonce: string }).nonce;
    const quote = readFileSync(sharedDir('vectors', 'trustee/deps/verifier/test_data/tdx_quote_4.dat')).toString('base64');
    const r = await call(`${base}/kbs/v0/attest`, 'POST', {
      'runtime-data': { nonce, 'tee-pubkey': teeKey().jwk },
      'tee-evidence': { primary_evidence: { quote, cc_eventlog: null }, additional_evidence: '' },
    }, { cookie: a.cookie ?? '' });
    assert.equal(r.status, 401);
    const e = r.json() as { type: string; detail: string };
    assert.equal(e.type, kbsErrorType('AttestationError'));
    assert.match(e.detail, /report_data/);
  } finally {
    await s.close();
  }
});
