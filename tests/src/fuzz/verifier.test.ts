/**
 * Fuzz: TDX quotes, SNP reports, CCEL event logs and the certificates/CRLs of the collateral,
 * seeded from the real vectors in /work/shared/vectors and mutated (flip, overwrite, truncate,
 * extend, cut, boundary u32s). Pure parsers must return or throw a VERIFIER_ KccError; the
 * full verify path must refuse with a VERIFIER_ code (the expected report_data never matches,
 * so an acceptance would be a bug) and settle in time.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { sharedDir } from '@kata-cc/testing';
import { createVerifier } from '@kata-cc/verifier';
import type { Tee } from '@kata-cc/kbs-types';
// Pure parsers are internal to @kata-cc/verifier (not in its exports): reached through its dist.
import { parseTdxQuote } from '../../../kbs/verifier/dist/tdx/quote.js';
import { parseCcel } from '../../../kbs/verifier/dist/tdx/ccel.js';
import { parseSnpReport } from '../../../kbs/verifier/dist/snp/report.js';
import { reportFromJson, certTableFromJson } from '../../../kbs/verifier/dist/snp/wire.js';
import { parseCertificate, parseCrl } from '../../../kbs/verifier/dist/common/x509.js';
import { expectKcc, fuzz, mutate, mutationArb, test, within } from './budget.js';

const V = (p: string): Uint8Array => new Uint8Array(readFileSync(sharedDir('vectors', p)));
const TD = 'trustee/deps/verifier/test_data';
const TDX_QUOTES = [
  `${TD}/tdx_quote_4.dat`, `${TD}/tdx_quote_5.dat`, `${TD}/tdx_quote_6.dat`, `${TD}/az-tdx-vtpm/td-quote.bin`,
  'go-tdx-guest/testing/testdata/tdx_prod_quote_SPR_E4.dat', 'go-tdx-guest/testing/testdata/quote_v5_sample.dat',
  `${TD}/occlum_quote.dat`,
].map(V);
const SNP_REPORTS = [`${TD}/snp/test-report.bin`, `${TD}/snp/test-vlek-report.bin`].map(V);
const CCEL = V(`${TD}/CCEL_data_ovmf`);
const CERTS = [V(`${TD}/snp/test-vcek.der`), V(`${TD}/snp/test-vlek.der`)];
const CRL = V('go-tdx-guest/testing/testdata/rootcrl.der');
const NOW = { now: new Date('2026-06-01') };
const NEVER = { reportData: new Uint8Array(64).fill(0xa5) };

/** A seed picked from `seeds`, then mutated. */
function mutated(seeds: readonly Uint8Array[]): fc.Arbitrary<Uint8Array> {
  // One prebuilt arbitrary per seed (building arbitraries inside .chain per input is slow).
  return fc.oneof(...seeds.map((s) => mutationArb(s.length).map((ms) => mutate(s, ms))));
}

function pure(what: string, parse: (b: Uint8Array) => unknown): (b: Uint8Array) => string {
  return (b) => {
    try {
      parse(b);
      return 'parsed';
    } catch (e) {
      return expectKcc(e, 'VERIFIER_', what).code;
    }
  };
}

test('fuzz: the unmutated seeds parse (so the mutations start from valid input)', () => {
  for (const q of TDX_QUOTES.slice(0, 6)) assert.ok(parseTdxQuote(q));
  for (const r of SNP_REPORTS) assert.ok(parseSnpReport(r));
  assert.ok(parseCcel(CCEL).length > 10);
  for (const c of CERTS) assert.ok(parseCertificate(c));
  assert.ok(parseCrl(CRL));
});

test('fuzz: parseTdxQuote on mutated real quotes and random bytes', async () => {
  const p = pure('parseTdxQuote', parseTdxQuote);
  await fuzz('verifier/parseTdxQuote(mutated)', [mutated(TDX_QUOTES)], p, { runs: 1500, seconds: 3 });
  await fuzz('verifier/parseTdxQuote(random)', [fc.uint8Array({ maxLength: 6000 })], p, { runs: 500, seconds: 1 });
});

test('fuzz: parseSnpReport and the SNP JSON wire form', async () => {
  await fuzz('verifier/parseSnpReport(mutated)', [mutated(SNP_REPORTS)], pure('parseSnpReport', parseSnpReport), { runs: 1500, seconds: 2 });
  await fuzz('verifier/snp wire JSON', [fc.jsonValue({ maxDepth: 3 })], (v) => {
    let last = 'parsed';
    for (const f of [reportFromJson, certTableFromJson]) {
      try {
        f(v);
      } catch (e) {
        last = expectKcc(e, 'VERIFIER_', 'snp wire').code;
      }
    }
    return last;
  }, { runs: 500, seconds: 1 });
});

test('fuzz: parseCcel on a mutated real event log', async () => {
  // The 1 MiB table is mostly padding: mutate its used head so the mutations hit events.
  const head = CCEL.subarray(0, 64 * 1024);
  await fuzz('verifier/parseCcel(mutated)', [mutated([head])], pure('parseCcel', parseCcel), { runs: 400, seconds: 3 });
});

test('fuzz: X.509 certificates and CRLs (PCK/VCEK chain inputs)', async () => {
  await fuzz('verifier/parseCertificate(mutated)', [mutated(CERTS)], pure('parseCertificate', (b) => parseCertificate(b)), { runs: 800, seconds: 2 });
  await fuzz('verifier/parseCrl(mutated)', [mutated([CRL])], pure('parseCrl', (b) => parseCrl(b)), { runs: 500, seconds: 2 });
});

async function refuses(tee: Tee, config: Record<string, unknown>, evidence: unknown): Promise<string> {
  const v = createVerifier(tee, { tees: { [tee]: config } });
  try {
    await within(5000, `${tee} verify`, v.verify(evidence, NEVER, NOW));
  } catch (e) {
    return expectKcc(e, 'VERIFIER_', `${tee} verify`).code;
  }
  assert.fail(`${tee}: mutated evidence was accepted`);
}

test('fuzz: full verify path, TDX (raw quote and the AA JSON form with CCEL)', async () => {
  // allowDebug: the debug-TD seed (quote_4) goes on to the binding checks.
  const cfg = { allowMissingCollateral: true, allowDebug: true };
  const quotes = TDX_QUOTES.slice(0, 6);
  await fuzz('verifier/verify tdx raw', [mutated(quotes)], (q) => refuses('tdx', cfg, q), { runs: 150, seconds: 4 });
  const ccelHead = CCEL.subarray(0, 16 * 1024);
  await fuzz('verifier/verify tdx json', [mutated(quotes), fc.option(mutated([ccelHead]), { nil: undefined }), fc.boolean()], (q, log, asBytes) => {
    const obj = { quote: Buffer.from(q).toString('base64'), cc_eventlog: log === undefined ? null : Buffer.from(log).toString('base64') };
    return refuses('tdx', cfg, asBytes ? new Uint8Array(Buffer.from(JSON.stringify(obj))) : obj);
  }, { runs: 100, seconds: 4 });
});

test('fuzz: full verify path, SNP (raw report, AA JSON form, garbage JSON)', async () => {
  const cfg = { vek: CERTS[0] };
  await fuzz('verifier/verify snp raw', [mutated([SNP_REPORTS[0]!])], (r) => refuses('snp', cfg, r), { runs: 200, seconds: 3 });
  const wire = readFileSync(sharedDir('vectors', 'trustee/attestation-service/tests/e2e/evidence.json'));
  await fuzz('verifier/verify snp json text', [mutated([new Uint8Array(wire)])], (b) => refuses('snp', {}, b), { runs: 150, seconds: 3 });
  await fuzz('verifier/verify any tee garbage JSON', [fc.constantFrom<Tee>('tdx', 'snp', 'tpm', 'az-snp-vtpm', 'az-tdx-vtpm'), fc.jsonValue({ maxDepth: 3 })], (tee, j) => refuses(tee, {}, j), { runs: 300, seconds: 2 });
});
