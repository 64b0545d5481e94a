#!/usr/bin/env node
// Rego engine benchmark (@kata-cc/rego): every recorded agent request of the kata conformance
// cases (genpolicy policies), each policy compiled once, evaluated in rounds; plus compile
// time of every policy and of the largest one (large.rego); arithmetic cost per operation for
// small integers, big integers (bigint) and decimals (OPA big.Float and IEEE). Writes
// bench/results/rego.json. Needs `npx tsc -b libs/rego` first. Env: REGO_BENCH_SECONDS
// (default 3) of timed rounds; REGO_BENCH_BASELINE=<path to another build's dist/index.js>
// runs the same kata rounds on that build too, interleaved round by round, so a before/after
// comparison sees the same machine load (the result gets a `baseline` block, described by
// REGO_BENCH_BASELINE_LABEL, e.g. the commit it was built from).
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const dist = path.join(root, 'libs/rego/dist/index.js');
if (!existsSync(dist)) {
  console.error('rego bench: build first (npx tsc -b libs/rego)');
  process.exit(2);
}
const { compile } = await import(dist);
const baselineDist = process.env.REGO_BENCH_BASELINE;
const baseline = baselineDist ? (await import(path.resolve(baselineDist))).compile : undefined;
const regorus = path.join(root, '..', 'shared', 'rego-conformance', 'regorus');
const dataDir = path.join(regorus, 'tests/kata/data');
const SECONDS = Number(process.env.REGO_BENCH_SECONDS ?? 3);
const log = (m) => process.stderr.write(`rego bench: ${m}\n`);

function requests(text) {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => JSON.parse(l.replace('"ep":', '').slice(0, -1)));
}

/** Median of `runs` compile times in ms. */
function compileTime(rel, source, runs) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    compile([{ path: rel, source }], { regoVersion: 'v0' });
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

const loadStart = os.loadavg();
const cases = [];
for (const name of readdirSync(dataDir).sort()) {
  const dir = path.join(dataDir, name);
  if (!statSync(dir).isDirectory()) continue;
  const rel = `tests/kata/data/${name}/policy.rego`;
  const source = readFileSync(path.join(regorus, rel), 'utf8');
  const reqs = requests(readFileSync(path.join(dir, 'inputs.txt'), 'utf8'));
  const compileMs = compileTime(rel, source, 5);
  const policy = compile([{ path: rel, source }], { regoVersion: 'v0' });
  // First pass: cold (query compilation, regex caches), checked against nothing here.
  const t0 = performance.now();
  for (const [ep, input] of reqs) policy.evaluate(`data.agent_policy.${ep}`, input);
  const coldMs = performance.now() - t0;
  const basePolicy = baseline?.([{ path: rel, source }], { regoVersion: 'v0' });
  if (basePolicy) for (const [ep, input] of reqs) basePolicy.evaluate(`data.agent_policy.${ep}`, input);
  cases.push({ name, source, policy, basePolicy, reqs, compileMs, coldMs, lines: source.split('\n').length });
}

// Timed rounds over all requests of all cases (like regorus' kata runner, one query = one request).
let queries = 0;
let elapsed = 0;
const base = { queries: 0, ms: 0, cpuUs: 0 };
let cpuUs = 0;
const perCase = new Map(cases.map((c) => [c.name, { queries: 0, ms: 0 }]));
const deadline = performance.now() + SECONDS * 1000;
function baselineRound() {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (const c of cases) for (const [ep, input] of c.reqs) c.basePolicy.evaluate(`data.agent_policy.${ep}`, input);
  base.ms += performance.now() - t0;
  const c1 = process.cpuUsage(c0);
  base.cpuUs += c1.user + c1.system;
  base.lastRoundUs = c1.user + c1.system;
  base.queries += cases.reduce((n, c) => n + c.reqs.length, 0);
}
let round = 0;
const ratios = [];
while (performance.now() < deadline) {
  // The baseline goes first on even rounds and last on odd ones, so neither build
  // systematically inherits the other's garbage collection.
  const baseFirst = round++ % 2 === 0;
  if (baseline && baseFirst) baselineRound();
  const roundCpu = process.cpuUsage();
  for (const c of cases) {
    const t0 = performance.now();
    for (const [ep, input] of c.reqs) c.policy.evaluate(`data.agent_policy.${ep}`, input);
    const dt = performance.now() - t0;
    elapsed += dt;
    queries += c.reqs.length;
    const pc = perCase.get(c.name);
    pc.queries += c.reqs.length;
    pc.ms += dt;
  }
  const rc = process.cpuUsage(roundCpu);
  cpuUs += rc.user + rc.system;
  if (baseline && !baseFirst) baselineRound();
  // Paired per-round ratio: a burst of load from other work hits both builds of one round.
  if (baseline) ratios.push((rc.user + rc.system) / base.lastRoundUs);
}
ratios.sort((x, y) => x - y);
const cpuMs = cpuUs / 1000;

/** Cost of one arithmetic operation: a comprehension doing 2 ops per element, minus an empty one. */
function arithmetic() {
  const N = 20000;
  const body = (e) => `package b\nx := sum([(${e}) | i := numbers.range(1, ${N})[_]])\nnone := count([i | i := numbers.range(1, ${N})[_]])\n`;
  const kinds = {
    smallIntegers: ['i * 3 + 1', 'opa'],
    bigIntegers: ['i * 12345678901234567 + 98765432109876543210', 'opa'],
    decimalsOpa: ['i * 0.5 + 0.1', 'opa'],
    decimalsIeee: ['i * 0.5 + 0.1', 'ieee'],
  };
  const out = {};
  for (const [name, [expr, decimals]] of Object.entries(kinds)) {
    const p = compile([{ path: 'b.rego', source: body(expr) }], { decimals });
    const time = (q) => {
      const reps = 10;
      p.evaluate(q);
      const t0 = performance.now();
      for (let r = 0; r < reps; r++) p.evaluate(q);
      return (performance.now() - t0) / reps;
    };
    const ms = time('data.b.x') - time('data.b.none');
    // 2 ops per element plus one addition by sum.
    out[name] = { expr, decimals, nsPerOp: Math.max(0, Math.round((ms * 1e6) / (N * 3))) };
  }
  return out;
}
const arith = arithmetic();
const largeSource = readFileSync(path.join(dataDir, 'large.rego'), 'utf8');
const largeCompileMs = compileTime('tests/kata/data/large.rego', largeSource, 5);
const mem = process.memoryUsage();

const result = {
  benchmark: 'rego',
  date: new Date().toISOString(),
  machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? '', node: process.version, loadAverageAtStart: loadStart, loadAverageAtEnd: os.loadavg() },
  method:
    'each kata policy compiled once; every request of inputs.txt evaluated as data.agent_policy.<Request> (prints collected), repeated in rounds for the time budget; mean = total evaluation time / queries',
  kata: {
    cases: cases.length,
    requestsPerRound: cases.reduce((n, c) => n + c.reqs.length, 0),
    queries,
    totalMs: Number(elapsed.toFixed(1)),
    meanMsPerQuery: Number((elapsed / queries).toFixed(4)),
    // CPU time is less sensitive than wall time to other work sharing the machine.
    cpuMsPerQuery: Number((cpuMs / queries).toFixed(4)),
    evaluationsPerSecond: Math.round(queries / (elapsed / 1000)),
    firstRoundMsPerQuery: Number((cases.reduce((t, c) => t + c.coldMs, 0) / cases.reduce((n, c) => n + c.reqs.length, 0)).toFixed(4)),
    perCase: cases.map((c) => {
      const pc = perCase.get(c.name);
      return { name: c.name, policyLines: c.lines, requests: c.reqs.length, compileMs: Number(c.compileMs.toFixed(2)), meanMsPerQuery: Number((pc.ms / pc.queries).toFixed(4)) };
    }),
  },
  ...(baseline
    ? {
        baseline: {
          dist: path.relative(root, path.resolve(baselineDist)),
          label: process.env.REGO_BENCH_BASELINE_LABEL ?? '',
          note: 'the same kata rounds on another build, interleaved round by round with this one (same machine load)',
          queries: base.queries,
          meanMsPerQuery: Number((base.ms / base.queries).toFixed(4)),
          cpuMsPerQuery: Number((base.cpuUs / 1000 / base.queries).toFixed(4)),
          // Median over rounds of (this build's CPU / baseline's CPU) for the same requests.
          medianCpuRatio: Number((ratios[Math.floor(ratios.length / 2)] ?? NaN).toFixed(4)),
          rounds: ratios.length,
        },
      }
    : {}),
  arithmetic: arith,
  compile: {
    largest: { file: 'tests/kata/data/large.rego', bytes: Buffer.byteLength(largeSource), lines: largeSource.split('\n').length, medianMs: Number(largeCompileMs.toFixed(2)) },
  },
  memory: { rssMiB: Number((mem.rss / 2 ** 20).toFixed(1)), heapUsedMiB: Number((mem.heapUsed / 2 ** 20).toFixed(1)) },
  regorus: {
    kataMsPerQuery: null,
    note:
      "regorus publishes no per-query figure for the kata cases: its runner (tests/kata/main.rs) prints 'time per query' when run, and it times each request twice (shared and fresh engine). Its README publishes ACI policy figures instead: 3.6-5.0 ms per ACI test case and 4.6 ms mean for a whole `regorus eval` process on the ACI policy (hyperfine). Rust toolchains are not available here, so it was not run on this machine.",
  },
};
mkdirSafe(path.join(root, 'bench/results'));
writeFileSync(path.join(root, 'bench/results/rego.json'), JSON.stringify(result, null, 2) + '\n');
log(`${queries} queries, ${result.kata.meanMsPerQuery} ms/query (cpu ${result.kata.cpuMsPerQuery} ms), ${result.kata.evaluationsPerSecond} eval/s; large.rego compiles in ${result.compile.largest.medianMs} ms`);
if (result.baseline) log(`baseline ${result.baseline.dist}: ${result.baseline.meanMsPerQuery} ms/query (cpu ${result.baseline.cpuMsPerQuery} ms); median per-round CPU ratio this/baseline ${result.baseline.medianCpuRatio} over ${result.baseline.rounds} rounds`);
log(`arithmetic ns/op: ${Object.entries(arith).map(([k, v]) => `${k} ${v.nsPerOp}`).join(', ')}`);

function mkdirSafe(dir) {
  if (!existsSync(dir)) throw new Error(`missing ${dir}`);
}
