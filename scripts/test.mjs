#!/usr/bin/env node
// Runs every compiled test (`dist/**/*.test.js`) with node:test. Node 20 has no glob
// arguments for --test, so the files are listed here. Arguments filter by path substring:
//   node scripts/test.mjs kbs/server rego
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';

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
const filters = process.argv.slice(2);
const selected = files
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (selected.length === 0) {
  console.error('No test files matched; run `npm run build` first');
  process.exit(1);
}
const concurrency = process.env.KATA_CC_TEST_CONCURRENCY ?? '2';
const r = spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, ...selected], { stdio: 'inherit' });
process.exit(r.status ?? 1);
