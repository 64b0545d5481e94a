import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { sharedDir, tempDir } from '@kata-cc/testing';
import { TdxVerifier } from './tdx-verifier.js';

const GO = (f: string): string => sharedDir('vectors', 'go-tdx-guest/testing/testdata', f);
const CH = (f: string): string => readFileSync(sharedDir('vectors', 'go-tdx-guest/extracted-from-testing_test_cases.go', f), 'utf8');
const SPR = new Date('2023-07-01T00:00:00Z');
let tmp: { dir: string; cleanup: () => Promise<void> };
let server: http.Server;
let url = '';
const requests: string[] = [];

// A FAKE PCS: Intel's v4 API paths and issuer-chain headers, serving the go-tdx-guest collateral.
before(async () => {
  tmp = await tempDir('kcc-pcs-');
  server = http.createServer((req, res) => {
    requests.push(req.url ?? '');
    const u = new URL(req.url ?? '/', 'http://x');
    const send = (body: Buffer | string, headers: Record<string, string> = {}): void => { res.writeHead(200, headers); res.end(body); };
    if (u.pathname === '/tdx/certification/v4/tcb' && u.searchParams.get('fmspc') === '50806f000000') {
      send(readFileSync(GO('sample_tcbInfo_response')), { 'TCB-Info-Issuer-Chain': encodeURIComponent(CH('tcbInfoIssuerChain.pem')) });
    } else if (u.pathname === '/tdx/certification/v4/qe/identity') {
      send(readFileSync(GO('sample_qeIdentity_response')), { 'SGX-Enclave-Identity-Issuer-Chain': encodeURIComponent(CH('qeIdentityIssuerChain.pem')) });
    } else if (u.pathname === '/sgx/certification/v4/pckcrl' && u.searchParams.get('ca') === 'platform') {
      send(readFileSync(GO('pckcrl')), { 'SGX-PCK-CRL-Issuer-Chain': encodeURIComponent(CH('pckCrlIssuerChain.pem')) });
    } else if (u.pathname === '/sgx/certification/v4/rootcacrl') {
      send(readFileSync(GO('rootcrl.der')).toString('hex'));
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  await new Promise((r) => server.close(r));
  await tmp.cleanup();
});

test('TDX collateral from a fake PCS: fetched once, then served from the on-disk cache; every collateral check runs', async () => {
  const cacheDir = path.join(tmp.dir, 'cache');
  const v = new TdxVerifier({ pccsUrl: url, collateralCacheDir: cacheDir });
  const quote = new Uint8Array(readFileSync(GO('tdx_prod_quote_SPR_E4.dat')));
  // All signatures, chains, CRLs and windows pass; the sample TCB info has no level for this platform.
  await assert.rejects(v.inspect(quote, {}, { now: SPR }), { code: 'VERIFIER_TDX_TCB_LEVEL_NOT_FOUND' });
  assert.equal(requests.length, 4);
  assert.deepEqual(readdirSync(path.join(cacheDir, '50806f000000-platform')).sort(), [
    'pck_crl.der', 'pck_crl_issuer_chain.pem', 'qe_identity.json', 'qe_identity_issuer_chain.pem', 'root_ca_crl.der', 'tcb_info_issuer_chain.pem', 'tcbinfo-50806f000000.json',
  ]);
  await assert.rejects(v.inspect(quote, {}, { now: SPR }), { code: 'VERIFIER_TDX_TCB_LEVEL_NOT_FOUND' });
  assert.equal(requests.length, 4, 'second verification used the cache');
  // Past nextUpdate the cache is refreshed (and the stale collateral still fails its window).
  await assert.rejects(v.inspect(quote, {}, { now: new Date('2023-07-20') }), { code: 'VERIFIER_TDX_COLLATERAL_EXPIRED' });
  assert.equal(requests.length, 8);
  await assert.rejects(new TdxVerifier({ pccsUrl: 'http://127.0.0.1:9' }).inspect(quote, {}, { now: SPR }), { code: 'VERIFIER_TDX_COLLATERAL_FETCH_FAILED' });
});
