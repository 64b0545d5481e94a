/**
 * Runners for the shared conformance corpus (../shared/rego-conformance, copied from
 * regorus): interpreter YAML cases and real genpolicy agent policies with recorded requests.
 * Used by conformance.test.ts; kept apart so the test file only states the targets.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import YAML from 'yaml';
import { compile } from '../compile.js';
import { fromJson, RObject, RSet, toJson } from '../value.js';
import type { Value } from '../value.js';

export interface CaseResult {
  id: string;
  ok: boolean;
  skipped: boolean;
  why: string;
}

interface YamlCase {
  note: string;
  modules: string[];
  data?: unknown;
  input?: unknown;
  query: string;
  want_result?: unknown;
  want_prints?: string[];
  error?: string;
  skip?: boolean;
  strict?: boolean;
  execution_timer?: { limit_ms?: number; check_interval?: number };
  global_execution_timer?: { limit_ms?: number; check_interval?: number; disable?: boolean };
  time_source?: { default_increment_ms?: number };
}

function yamlFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...yamlFiles(p));
    else if (name.endsWith('.yaml')) out.push(p);
  }
  return out;
}

/**
 * Decodes the corpus' encodings: "#undefined", {"set!": [...]}, {"object!": [{key, value}]}.
 * Expected values are read as Maps so that non-string YAML keys (`null: true`) keep their type.
 */
function expected(v: unknown): Value | undefined {
  if (v === '#undefined') return undefined;
  if (Array.isArray(v)) return v.map((x) => expected(x) as Value);
  if (v instanceof Map) {
    const ks = [...v.keys()] as unknown[];
    if (ks.length === 1 && ks[0] === 'set!' && Array.isArray(v.get('set!'))) return RSet.of((v.get('set!') as unknown[]).map((x) => expected(x) as Value));
    if (ks.length === 1 && ks[0] === 'object!' && Array.isArray(v.get('object!'))) {
      const o = new RObject();
      for (const e of v.get('object!') as Array<Map<string, unknown>>) o.set(expected(e.get('key')) as Value, expected(e.get('value')) as Value);
      return o;
    }
    const o = new RObject();
    for (const [k, x] of v as Map<unknown, unknown>) {
      const ev = expected(x);
      if (ev !== undefined) o.set(expected(k) as Value, ev);
    }
    return o;
  }
  if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v);
    const rec = v as Record<string, unknown>;
    if (keys.length === 1 && Array.isArray(rec['set!'])) return RSet.of((rec['set!'] as unknown[]).map((x) => expected(x) as Value));
    if (keys.length === 1 && Array.isArray(rec['object!'])) {
      const o = new RObject();
      for (const e of rec['object!'] as Array<{ key: unknown; value: unknown }>) o.set(expected(e.key) as Value, expected(e.value) as Value);
      return o;
    }
    const o = new RObject();
    for (const k of keys) {
      const x = expected(rec[k]);
      if (x !== undefined) o.set(k, x);
    }
    return o;
  }
  return fromJson(v);
}

function many(v: unknown): unknown[] | undefined {
  if (v instanceof Map && v.size === 1 && Array.isArray(v.get('many!'))) return v.get('many!') as unknown[];
  if (v !== null && typeof v === 'object' && !Array.isArray(v) && Array.isArray((v as Record<string, unknown>)['many!'])) {
    return (v as Record<string, unknown[]>)['many!'];
  }
  return undefined;
}

/** The corpus' execution timers with a fake clock that advances on every reading. */
function timerOptions(c: YamlCase): { timeoutMs?: number; timeCheckInterval?: number; clock?: () => number } {
  const g = c.global_execution_timer;
  const timer = c.execution_timer ?? (g && !g.disable ? g : undefined);
  if (!timer || timer.limit_ms === undefined) return {};
  let now = 0;
  const step = c.time_source?.default_increment_ms ?? 1;
  return { timeoutMs: timer.limit_ms, timeCheckInterval: timer.check_interval ?? 1, clock: () => (now += step) - step };
}

function runCase(c: YamlCase): { ok: boolean; why: string } {
  const got: unknown[] = [];
  let prints: string[] = [];
  let err: Error | undefined;
  try {
    // The corpus records regorus' answers: doubles for non-integer arithmetic (OPA: big.Float).
    const policy = compile(c.modules.map((source, i) => ({ path: `rego_${i}`, source })), { regoVersion: 'v0', decimals: 'ieee', strictBuiltinErrors: c.strict !== false, ...timerOptions(c) });
    for (const input of many(c.input) ?? [c.input]) {
      const r = policy.evaluate(c.query, input, c.data);
      got.push(...r.results);
      prints = prints.concat(r.prints);
    }
  } catch (e) {
    err = e as Error;
  }
  if (c.error !== undefined) {
    if (err === undefined) return { ok: false, why: `no error, want "${c.error}"` };
    return err.message.includes(c.error) ? { ok: true, why: '' } : { ok: false, why: `error "${err.message}" does not contain "${c.error}"` };
  }
  if (err) return { ok: false, why: `unexpected error: ${err.message}` };
  const wants = c.want_result === undefined ? [] : (many(c.want_result) ?? [c.want_result]);
  const want = wants.map(expected).filter((x): x is Value => x !== undefined).map((x) => toJson(x));
  if (!isDeepStrictEqual(got, want)) return { ok: false, why: `got ${JSON.stringify(got)} want ${JSON.stringify(want)}` };
  if (c.want_prints && !isDeepStrictEqual(prints, c.want_prints)) return { ok: false, why: `prints ${JSON.stringify(prints)}` };
  return { ok: true, why: '' };
}

/** Every interpreter case, with ids `<file relative to cases/> :: <note>`. */
export function runInterpreterCases(casesDir: string): CaseResult[] {
  const results: CaseResult[] = [];
  const seen = new Map<string, number>();
  for (const file of yamlFiles(casesDir)) {
    const rel = path.relative(casesDir, file);
    // One file has a flow sequence the strict parser rejects; the document still loads.
    const parsed = YAML.parseDocument(readFileSync(file, 'utf8'));
    const doc = parsed.toJS() as { cases: YamlCase[] };
    const typed = (parsed.toJS({ mapAsMap: true }) as Map<string, Array<Map<string, unknown>>>).get('cases') ?? [];
    for (const [i, c] of doc.cases.entries()) {
      if (c.want_result !== undefined) c.want_result = typed[i]?.get('want_result');
      const base = `${rel} :: ${c.note}`;
      const n = (seen.get(base) ?? 0) + 1;
      seen.set(base, n);
      const id = n === 1 ? base : `${base} (${n})`; // a few notes repeat within a file
      if (c.skip === true) {
        results.push({ id, ok: false, skipped: true, why: 'skipped by the corpus' });
        continue;
      }
      results.push({ id, skipped: false, ...runCase(c) });
    }
  }
  return results;
}

export interface KataRequest {
  ep: string;
  input: unknown;
}

/** Parses inputs.txt: one `["ep":"<Request>",{...}],` per line. */
export function kataRequests(text: string): KataRequest[] {
  const out: KataRequest[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const [ep, input] = JSON.parse(line.replace('"ep":', '').slice(0, -1)) as [string, unknown];
    out.push({ ep, input });
  }
  return out;
}

/** Every recorded request of every kata case: exact outputs and prints. */
export function runKataCases(regorusDir: string): CaseResult[] {
  const dataDir = path.join(regorusDir, 'tests/kata/data');
  const results: CaseResult[] = [];
  for (const name of readdirSync(dataDir).sort()) {
    const dir = path.join(dataDir, name);
    if (!statSync(dir).isDirectory()) continue;
    const rel = `tests/kata/data/${name}/policy.rego`;
    const policy = compile([{ path: rel, source: readFileSync(path.join(regorusDir, rel), 'utf8') }], { regoVersion: 'v0', decimals: 'ieee' });
    const outputs = JSON.parse(readFileSync(path.join(dir, 'outputs.json'), 'utf8')) as unknown[];
    const prints = JSON.parse(readFileSync(path.join(dir, 'prints.json'), 'utf8')) as string[][];
    kataRequests(readFileSync(path.join(dir, 'inputs.txt'), 'utf8')).forEach((req, i) => {
      const id = `${name}#${i} ${req.ep}`;
      try {
        const r = policy.evaluate(`data.agent_policy.${req.ep}`, req.input);
        const ok = isDeepStrictEqual(r.value, outputs[i]) && isDeepStrictEqual(r.prints, prints[i]);
        results.push({ id, ok, skipped: false, why: ok ? '' : `value ${JSON.stringify(r.value)} or prints differ` });
      } catch (e) {
        results.push({ id, ok: false, skipped: false, why: (e as Error).message });
      }
    });
  }
  return results;
}
