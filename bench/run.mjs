#!/usr/bin/env node
// `npm run bench -- <name>...`: runs bench/<name>.mjs (each writes bench/results/<name>.json).
// With no name, runs them all. Benchmarks are never part of `npm test`.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';

const dir = path.dirname(new URL(import.meta.url).pathname);
const all = readdirSync(dir).filter((f) => f.endsWith('.bench.mjs')).map((f) => f.replace('.bench.mjs', '')).sort();
const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !all.includes(w));
if (unknown.length) {
  console.error(`Unknown benchmark ${unknown.map((u) => `"${u}"`).join(', ')}; available: ${all.join(', ')}`);
  process.exit(2);
}
let failed = 0;
for (const name of wanted.length ? wanted : all) {
  console.error(`bench: ${name}`);
  const r = spawnSync(process.execPath, [path.join(dir, `${name}.bench.mjs`)], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
