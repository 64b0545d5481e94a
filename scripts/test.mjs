#!/usr/bin/env node
// Runs every compiled test (`dist/**/*.test.js`) with node:test. Node 20 has no glob
// arguments for --test, so the files are listed here.
//
//   node scripts/test.mjs [--unit] [path-substring...]
//
// Path substrings select files (`node scripts/test.mjs kbs/server rego`). `--unit` leaves out
// the slow suites (real guests under QEMU, fuzzing) for a fast local run; `npm test` and CI
// run everything. Files that boot real guests run last and one at a time: under TCG two guests
// on two cores starve each other (and any in-guest deadline) for no gain in total time.
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';

/** Test files that boot real QEMU guests (tests/src/<name>.test.ts). */
const BOOTS_GUESTS = /\/tests\/dist\/(e2e-[^/]*|guest-vm|runtime-cli|runtime-cli-encrypted|runtime-cri-guest)\.test\.js$/;
/** Property-based fuzzing of the trust boundaries (tests/src/fuzz/). */
const FUZZ = /\/tests\/dist\/fuzz\//;

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const skip = new Set(['node_modules', '.git', 'src', 'testdata']);
const files = [];
function walk(dir, inDist) {
  for (const name of readdirSync(dir)) {
    if (skip.has(name) && !(inDist && name !== 'node_modules')) continue;
    const full = path.join(dir, name);
    const st = statSync(full);
    if (st.isDirectory()) walk(full, inDist || name === 'dist');
    else if (inDist && name.endsWith('.test.js')) files.push(full);
  }
}
walk(root, false);

const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
const filters = args.filter((a) => a !== '--unit');
const selected = files
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .filter((f) => !unitOnly || !(BOOTS_GUESTS.test(f) || FUZZ.test(f)))
  .sort();
if (selected.length === 0) {
  console.error('No test files matched; run `npm run build` first');
  process.exit(1);
}

const concurrency = process.env.KATA_CC_TEST_CONCURRENCY ?? '2';
const run = (list, c) => (list.length === 0 ? 0 : spawnSync(process.execPath, ['--test', `--test-concurrency=${c}`, ...list], { stdio: 'inherit' }).status ?? 1);
const guests = selected.filter((f) => BOOTS_GUESTS.test(f));
const rest = selected.filter((f) => !BOOTS_GUESTS.test(f));
const restStatus = run(rest, concurrency);
const guestStatus = run(guests, '1');
process.exit(restStatus || guestStatus);
