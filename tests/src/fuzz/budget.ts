/**
 * Shared budget and bookkeeping for the fuzz tests: every property runs a bounded number of
 * inputs AND a bounded time (fast-check `interruptAfterTimeLimit`), and prints what it tried so
 * the figures in README.md can be checked against a CI log.
 * KATA_CC_FUZZ_SCALE multiplies the number of runs (e.g. 10 for a longer local session).
 */
import { test as nodeTest } from 'node:test';
import fc from 'fast-check';
import { isKccError, type KccError } from '@kata-cc/errors';

/**
 * The fuzz suite's marker: KATA_CC_SKIP_FUZZ=1 skips it (reported as skipped, never silently)
 * for a fast local unit run; CI runs it.
 */
const SKIP = process.env['KATA_CC_SKIP_FUZZ'] === '1' ? 'fuzz suite skipped by KATA_CC_SKIP_FUZZ=1 (CI runs it)' : false;

export function test(name: string, fn: () => Promise<void> | void, todo?: string): void {
  nodeTest(name, { skip: SKIP, ...(todo === undefined ? {} : { todo }) }, fn);
}

const SCALE = Number(process.env['KATA_CC_FUZZ_SCALE'] ?? '1') || 1;

/** Runs and time limit for one property: `runs` inputs at most, `seconds` of wall time at most. */
export function budget(runs: number, seconds = 4): { numRuns: number; interruptAfterTimeLimit: number; markInterruptAsFailure: false; includeErrorInReport: true; seed?: number } {
  const seed = process.env['KATA_CC_FUZZ_SEED'];
  return {
    numRuns: Math.max(1, Math.round(runs * SCALE)),
    interruptAfterTimeLimit: Math.round(seconds * 1000 * SCALE),
    markInterruptAsFailure: false,
    includeErrorInReport: true,
    ...(seed === undefined ? {} : { seed: Number(seed) }),
  };
}

/** Counts inputs per target and prints `fuzz <target>: N inputs in T ms` once the property is done. */
export class Tally {
  readonly target: string;
  count = 0;
  /** How often each outcome (error code, status) was seen: shows how deep the inputs got. */
  readonly outcomes = new Map<string, number>();
  readonly #started = Date.now();

  constructor(target: string) {
    this.target = target;
  }

  hit(outcome?: unknown): void {
    this.count++;
    if (typeof outcome === 'string') this.outcomes.set(outcome, (this.outcomes.get(outcome) ?? 0) + 1);
  }

  report(): { target: string; inputs: number; ms: number } {
    const ms = Date.now() - this.#started;
    const top = [...this.outcomes].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([k, n]) => `${k}=${n}`).join(' ');
    console.log(`fuzz ${this.target}: ${this.count} inputs in ${ms} ms${top ? ` (${top})` : ''}`);
    return { target: this.target, inputs: this.count, ms };
  }
}

/** Runs a property under the budget, counting every input, and reports. */
export async function fuzz<Ts extends [unknown, ...unknown[]]>(
  target: string,
  arbs: { [K in keyof Ts]: fc.Arbitrary<Ts[K]> },
  body: (...args: Ts) => Promise<unknown> | unknown,
  opts: { runs: number; seconds?: number },
): Promise<number> {
  const tally = new Tally(target);
  // When the time limit interrupts the property, the input in flight keeps running: it is awaited
  // below (its cleanup and checks finish, a late failure still fails the test).
  let inflight: Promise<void> = Promise.resolve();
  let lateError: unknown;
  const prop = fc.asyncProperty(...(arbs as unknown as [fc.Arbitrary<unknown>]), async (...args: unknown[]) => {
    const run = (async () => body(...(args as Ts)))();
    inflight = run.then(() => undefined, (e: unknown) => {
      lateError = e;
    });
    tally.hit(await run);
  });
  await fc.assert(prop as fc.IAsyncProperty<unknown>, budget(opts.runs, opts.seconds));
  await inflight;
  if (lateError !== undefined) throw lateError;
  tally.report();
  return tally.count;
}

/** The error must be a KccError whose stable code has this prefix (anything else is a bug). */
export function expectKcc(err: unknown, prefix: string | RegExp, what: string): KccError {
  if (!isKccError(err)) {
    throw new Error(`${what}: unexpected exception type ${(err as Error)?.constructor?.name ?? typeof err}: ${String(err)}`, { cause: err });
  }
  const ok = typeof prefix === 'string' ? err.code.startsWith(prefix) : prefix.test(err.code);
  if (!ok || !/^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$/.test(err.code)) throw new Error(`${what}: unexpected code ${err.code} (${err.message})`, { cause: err });
  return err;
}

/** Rejects after `ms`: a parser that never settles is a hang, which is a failure. */
export async function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => { t = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms (hang)`)), ms); })]);
  } finally {
    if (t) clearTimeout(t);
  }
}

// ---- byte mutations of a valid seed: flip, overwrite, truncate, extend, splice ----

export type Mutation =
  | { op: 'flip'; at: number; xor: number }
  | { op: 'set'; at: number; bytes: Uint8Array }
  | { op: 'truncate'; at: number }
  | { op: 'extend'; bytes: Uint8Array }
  | { op: 'cut'; at: number; len: number }
  | { op: 'u32'; at: number; value: number };

/** Mutations of a buffer of `length` bytes; `u32` writes boundary values into length fields. */
export function mutationArb(length: number): fc.Arbitrary<Mutation[]> {
  const at = fc.nat(Math.max(0, length - 1));
  const m: fc.Arbitrary<Mutation> = fc.oneof(
    fc.record({ op: fc.constant('flip' as const), at, xor: fc.integer({ min: 1, max: 255 }) }),
    fc.record({ op: fc.constant('set' as const), at, bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
    fc.record({ op: fc.constant('truncate' as const), at }),
    fc.record({ op: fc.constant('extend' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }) }),
    fc.record({ op: fc.constant('cut' as const), at, len: fc.integer({ min: 1, max: 64 }) }),
    fc.record({ op: fc.constant('u32' as const), at, value: fc.constantFrom(0, 1, 0x7f, 0xff, 0xffff, 0x7fffffff, 0xffffffff, length, length + 1) }),
  );
  return fc.array(m, { minLength: 1, maxLength: 4 });
}

export function mutate(seed: Uint8Array, ms: readonly Mutation[]): Uint8Array {
  let b = Buffer.from(seed);
  for (const m of ms) {
    if (b.length === 0 && m.op !== 'extend') continue;
    const at = 'at' in m ? m.at % b.length : 0;
    switch (m.op) {
      case 'flip':
        b[at] = (b[at] ?? 0) ^ m.xor;
        break;
      case 'set':
        b.set(m.bytes.subarray(0, b.length - at), at);
        break;
      case 'truncate':
        b = b.subarray(0, at);
        break;
      case 'extend':
        b = Buffer.concat([b, m.bytes]);
        break;
      case 'cut':
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.len)]);
        break;
      case 'u32':
        if (at + 4 <= b.length) b.writeUInt32LE(m.value >>> 0, at);
        break;
    }
  }
  return new Uint8Array(b);
}
