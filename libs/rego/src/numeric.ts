/**
 * Numbers as OPA treats them, without slowing the common case. A Rego number is a JS
 * number, or a `bigint` for an integer outside the safe range (|n| > 2^53 - 1): every
 * integer inside it is a plain number, so `===` and Map keys stay exact and the hot path
 * (small integers, doubles) never touches BigInt.
 *
 * Integer arithmetic is exact at any size (OPA: big.Int). Arithmetic involving a
 * non-integer follows OPA's big.Float (64-bit mantissa, operands parsed from their decimal
 * text, result printed as the shortest decimal that round-trips): `0.1 + 0.2` is `0.3` as in
 * OPA, not 0.30000000000000004. The result is then held as the nearest double, so a
 * result that needs more than 17 significant digits (OPA prints `1/3` with 20) is rounded.
 */
export type Num = number | bigint;

/** A bigint result as a Rego number: a plain number when it is safe. */
export function normBig(n: bigint): Num {
  return n >= -9007199254740991n && n <= 9007199254740991n ? Number(n) : n;
}

/** A number literal or JSON number text: digit-only texts beyond 2^53 stay exact. */
export function numFromText(text: string): Num {
  const n = Number(text);
  if (Number.isSafeInteger(n) || !/^-?\d+$/.test(text)) return n;
  return normBig(BigInt(text));
}

export function isInt(x: Num): boolean {
  return typeof x === 'bigint' || Number.isInteger(x);
}

const big = (x: Num): bigint => (typeof x === 'bigint' ? x : BigInt(x));

// ---- OPA big.Float emulation (precision 64, round half to even) ----

/** Exact rational n/d (d > 0). */
type Rat = [bigint, bigint];

function ratOf(x: Num): Rat {
  if (typeof x === 'bigint') return [x, 1n];
  // The shortest decimal text of the double is what the policy or JSON wrote (0.1, not its binary value).
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/.exec(String(x)) as RegExpExecArray;
  const frac = m[3] ?? '';
  let n = BigInt((m[1] ?? '') + (m[2] as string) + frac);
  const exp = Number(m[4] ?? 0) - frac.length;
  let d = 1n;
  if (exp >= 0) n *= 10n ** BigInt(exp);
  else d = 10n ** BigInt(-exp);
  return [n, d];
}

const abs = (n: bigint): bigint => (n < 0n ? -n : n);

function bitLen(n: bigint): number {
  return n === 0n ? 0 : n.toString(2).length;
}

/** Rounds n/d to a 64-bit mantissa; the result is again an exact rational. */
function round64([n, d]: Rat): Rat {
  if (n === 0n) return [0n, 1n];
  const neg = n < 0n;
  const a = abs(n);
  // e: position of the leading bit of a/d, so that 2^e <= a/d < 2^(e+1).
  let e = bitLen(a) - bitLen(d);
  if ((e >= 0 ? a : a << BigInt(-e)) < (e >= 0 ? d << BigInt(e) : d)) e--;
  const shift = 63 - e;
  const num = shift >= 0 ? a << BigInt(shift) : a;
  const den = shift >= 0 ? d : d << BigInt(-shift);
  let m = num / den;
  const r2 = (num % den) * 2n;
  if (r2 > den || (r2 === den && (m & 1n) === 1n)) m++;
  const s = neg ? -m : m;
  return shift >= 0 ? [s, 1n << BigInt(shift)] : [s << BigInt(-shift), 1n];
}

const ratEq = (x: Rat, y: Rat): boolean => x[0] * y[1] === y[0] * x[1];

/** The shortest decimal that rounds back to the same 64-bit value, as a double. */
function shortest(v: Rat): number {
  const [n, d] = v;
  if (n === 0n) return 0;
  const approx = Math.abs(Number(n) / Number(d));
  const k = Number.isFinite(approx) && approx > 0 ? Math.floor(Math.log10(approx)) : bitLen(abs(n) / d) * 0.30103;
  for (let digits = 1; digits <= 21; digits++) {
    const p = k - digits + 1;
    // c = round(v / 10^p)
    const [sn, sd] = p >= 0 ? [n, d * 10n ** BigInt(p)] : [n * 10n ** BigInt(-p), d];
    let c = abs(sn) / sd;
    if ((abs(sn) % sd) * 2n >= sd) c++;
    if (sn < 0n) c = -c;
    const cand: Rat = p >= 0 ? [c * 10n ** BigInt(p), 1n] : [c, 10n ** BigInt(-p)];
    if (ratEq(round64(cand), v)) return Number(`${c}e${p}`);
  }
  return Number(n) / Number(d);
}

const DEC = /^(-?)(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/;
const POW10 = Array.from({ length: 16 }, (_, i) => 10 ** i);

/** x = m * 10^e with a mantissa of at most 15 digits, from the shortest text of the double. */
function decParts(x: Num): [number, number] | undefined {
  if (typeof x === 'bigint') return undefined;
  if (Number.isInteger(x)) return Math.abs(x) < 1e15 ? [x, 0] : undefined;
  const m = DEC.exec(String(x));
  if (!m) return undefined;
  const frac = m[3] ?? '';
  const digits = ((m[2] as string) + frac).replace(/^0+(?=\d)/, '');
  if (digits.length > 15) return undefined;
  return [Number((m[1] ?? '') + digits), Number(m[4] ?? 0) - frac.length];
}

/**
 * The same result as the big.Float path when both operands are short decimals and the exact
 * result fits a safe integer mantissa (then OPA prints exactly that decimal): a few hundred
 * ns instead of ~10 µs of BigInt work.
 */
function fastDecimal(x: Num, y: Num, op: '+' | '-' | '*'): number | undefined {
  const a = decParts(x);
  const b = decParts(y);
  if (!a || !b) return undefined;
  let m: number;
  let e: number;
  if (op === '*') {
    m = a[0] * b[0];
    e = a[1] + b[1];
  } else {
    // Cancellation (x + -y, x - y) magnifies OPA's rounding of the operands to 64 bits,
    // which the slow path reproduces (-30.0285 + 30 is -0.02849999999999999986 there).
    const sameSign = a[0] >= 0 === b[0] >= 0;
    if ((op === '+') !== sameSign) return undefined;
    e = Math.min(a[1], b[1]);
    const sa = POW10[a[1] - e];
    const sb = POW10[b[1] - e];
    if (sa === undefined || sb === undefined) return undefined;
    const ma = a[0] * sa;
    const mb = b[0] * sb;
    if (!Number.isSafeInteger(ma) || !Number.isSafeInteger(mb)) return undefined;
    m = op === '+' ? ma + mb : ma - mb;
  }
  if (!Number.isSafeInteger(m)) return undefined;
  return Number(`${m}e${e}`);
}

/** Exported for the differential test of the fast path (`fast: false` forces big.Float). */
export function floatOp(x: Num, y: Num, op: '+' | '-' | '*' | '/', ieee: boolean, fast = true): number {
  if (ieee) {
    const a = Number(x);
    const b = Number(y);
    return op === '+' ? a + b : op === '-' ? a - b : op === '*' ? a * b : a / b;
  }
  if (op !== '/' && fast) {
    const r = fastDecimal(x, y, op);
    if (r !== undefined) return r;
  }
  const [an, ad] = round64(ratOf(x));
  const [bn, bd] = round64(ratOf(y));
  let r: Rat;
  switch (op) {
    case '+':
      r = [an * bd + bn * ad, ad * bd];
      break;
    case '-':
      r = [an * bd - bn * ad, ad * bd];
      break;
    case '*':
      r = [an * bn, ad * bd];
      break;
    case '/':
      r = bn < 0n ? [-an * bd, ad * -bn] : [an * bd, ad * bn];
      break;
  }
  return shortest(round64(r));
}

// ---- Arithmetic with OPA's integer / float rules ----

export function add(x: Num, y: Num, ieee = false): Num {
  if (typeof x === 'number' && typeof y === 'number') {
    const r = x + y;
    if (Number.isSafeInteger(r) && Number.isInteger(x) && Number.isInteger(y)) return r;
    if (!Number.isInteger(x) || !Number.isInteger(y)) return floatOp(x, y, '+', ieee);
  } else if (!isInt(x) || !isInt(y)) return floatOp(x, y, '+', ieee);
  return normBig(big(x) + big(y));
}

export function sub(x: Num, y: Num, ieee = false): Num {
  if (typeof x === 'number' && typeof y === 'number') {
    const r = x - y;
    if (Number.isSafeInteger(r) && Number.isInteger(x) && Number.isInteger(y)) return r;
    if (!Number.isInteger(x) || !Number.isInteger(y)) return floatOp(x, y, '-', ieee);
  } else if (!isInt(x) || !isInt(y)) return floatOp(x, y, '-', ieee);
  return normBig(big(x) - big(y));
}

export function mul(x: Num, y: Num, ieee = false): Num {
  if (typeof x === 'number' && typeof y === 'number') {
    const r = x * y;
    if (Number.isSafeInteger(r) && Number.isInteger(x) && Number.isInteger(y)) return r;
    if (!Number.isInteger(x) || !Number.isInteger(y)) return floatOp(x, y, '*', ieee);
  } else if (!isInt(x) || !isInt(y)) return floatOp(x, y, '*', ieee);
  return normBig(big(x) * big(y));
}

/** Division (y != 0): an exact integer quotient stays an integer, anything else is a float. */
export function div(x: Num, y: Num, ieee = false): Num {
  if (isInt(x) && isInt(y)) {
    const a = big(x);
    const b = big(y);
    if (a % b === 0n) return normBig(a / b);
  }
  return floatOp(x, y, '/', ieee);
}

/** Remainder of integers (y != 0), sign of the dividend as Go's big.Int.Rem. */
export function rem(x: Num, y: Num): Num {
  if (typeof x === 'number' && typeof y === 'number') {
    const r = x % y;
    return Object.is(r, -0) ? 0 : r;
  }
  return normBig(big(x) % big(y));
}

export function isZero(x: Num): boolean {
  return x === 0 || x === 0n;
}

/** Number of a Rego number for APIs that need one (lossy beyond 2^53). */
export function toNumber(x: Num): number {
  return typeof x === 'bigint' ? Number(x) : x;
}

export { big as toBigInt };
