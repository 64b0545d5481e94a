import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot, sharedDir } from '@kata-cc/testing';
import { runInterpreterCases, runKataCases } from './cases.js';

const regorus = sharedDir('rego-conformance', 'regorus');

/** Ids listed in conformance-known-failures.md as "- `<id>`: reason". */
function knownFailures(): Map<string, string> {
  const text = readFileSync(path.join(repoRoot(), 'libs/rego/conformance-known-failures.md'), 'utf8');
  const out = new Map<string, string>();
  for (const m of text.matchAll(/^- `(.+?)`: (.*)$/gm)) out.set(m[1] as string, m[2] as string);
  return out;
}

test('kata agent policies: every recorded request gives the recorded output and prints', () => {
  const results = runKataCases(regorus);
  const failed = results.filter((r) => !r.ok);
  console.log(`kata conformance: ${results.length - failed.length}/${results.length} requests pass`);
  assert.ok(results.length > 300, 'the kata corpus was found');
  assert.deepEqual(failed.map((r) => `${r.id}: ${r.why}`), []);
});

test('interpreter cases: >= 95% of non-skipped pass and every failure is listed with its reason', () => {
  const results = runInterpreterCases(path.join(regorus, 'tests/interpreter/cases'));
  const run = results.filter((r) => !r.skipped);
  const passed = run.filter((r) => r.ok);
  const rate = passed.length / run.length;
  console.log(`interpreter conformance: ${passed.length}/${run.length} pass (${(rate * 100).toFixed(1)}%), ${results.length - run.length} skipped by the corpus`);
  const known = knownFailures();
  const unlisted = run.filter((r) => !r.ok && !known.has(r.id)).map((r) => `${r.id}: ${r.why}`);
  const nowPassing = passed.filter((r) => known.has(r.id)).map((r) => r.id);
  assert.deepEqual(unlisted, [], 'failing cases missing from conformance-known-failures.md');
  assert.deepEqual(nowPassing, [], 'cases listed as failing now pass: remove them from the list');
  assert.ok(rate >= 0.95, `pass rate ${(rate * 100).toFixed(1)}% is below the 95% target`);
});
