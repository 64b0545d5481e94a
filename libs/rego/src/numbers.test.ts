import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compile, parseJson, toJsonText } from './index.js';
import { floatOp } from './numeric.js';

/** `x := <expr>` in a v1 module; results as bigint when big. */
function ev(expr: string, input?: unknown, opts: { decimals?: 'opa' | 'ieee' } = {}): unknown {
  const p = compile([{ path: 't.rego', source: `package t\nimport rego.v1\nx := ${expr}\n` }], { strictBuiltinErrors: true, bigints: true, ...opts });
  return p.evaluate('data.t.x', input).value;
}

test('big integer literals and arithmetic are exact (OPA big.Int)', () => {
  assert.equal(ev('12345678901234567890 + 1'), 12345678901234567891n);
  assert.equal(ev('9007199254740993 - 2'), 9007199254740991); // back in the safe range: a plain number
  assert.equal(ev('9007199254740991 * 9007199254740991'), 81129638414606663681390495662081n);
  assert.equal(ev('-12345678901234567890 - 10'), -12345678901234567900n);
  assert.equal(ev('100000000000000000000 / 4'), 25000000000000000000n);
  assert.equal(ev('100000000000000000001 % 7'), Number(100000000000000000001n % 7n));
  assert.equal(ev('12345678901234567890 > 12345678901234567889'), true);
  assert.equal(ev('12345678901234567890 == 12345678901234567890'), true);
  assert.equal(ev('12345678901234567890 < 1.3e19'), true);
  assert.equal(ev('sum([9007199254740991, 9007199254740991, 2])'), 18014398509481984n);
  assert.equal(ev('product([4294967296, 4294967296, 3])'), 55340232221128654848n);
  assert.equal(ev('max([1, 12345678901234567890, 3.5])'), 12345678901234567890n);
  assert.equal(ev('abs(-12345678901234567890)'), 12345678901234567890n);
  assert.equal(ev('bits.lsh(1, 70)'), 1n << 70n);
  assert.equal(ev('type_name(12345678901234567890)'), 'number');
  assert.equal(ev('is_number(12345678901234567890)'), true);
  assert.deepEqual(ev('{12345678901234567890: "a"}[12345678901234567890]'), 'a');
  // Integral doubles beyond 2^53 are floats for `%`, as in OPA/regorus.
  assert.throws(() => ev('1e16 % 2'), /modulo on floating-point number/);
});

test('to_number, format_int, numbers.range, units.parse*, json round-trip keep big integers', () => {
  assert.equal(ev('to_number("12345678901234567890")'), 12345678901234567890n);
  assert.equal(ev('to_number("1.5")'), 1.5);
  assert.equal(ev('format_int(12345678901234567890, 16)'), 'ab54a98ceb1f0ad2');
  assert.equal(ev('format_int(1e21, 10)'), '1000000000000000000000');
  assert.deepEqual(ev('numbers.range(12345678901234567890, 12345678901234567892)'), [12345678901234567890n, 12345678901234567891n, 12345678901234567892n]);
  assert.equal(ev('units.parse("100E")'), 100000000000000000000n);
  assert.equal(ev('units.parse_bytes("10EiB")'), 10n << 60n);
  assert.equal(ev('units.parse_bytes("1.5KiB")'), 1536);
  assert.equal(ev('json.marshal([12345678901234567890, 0.5])'), '[12345678901234567890,0.5]');
  assert.equal(ev('json.unmarshal("[12345678901234567890123]")[0] + 1'), 12345678901234567890124n);
  assert.equal(ev('yaml.unmarshal("a: 12345678901234567890").a'), 12345678901234567890n);
  assert.equal(ev('sprintf("%d %v", [12345678901234567890, 12345678901234567890])'), '12345678901234567890 12345678901234567890');
  assert.equal(ev('time.parse_rfc3339_ns("2023-12-24T18:58:45.123456789Z")'), 1703444325123456789n);
  assert.equal(ev('time.format([time.parse_rfc3339_ns("2023-12-24T18:58:45.123456789Z") + 1, "UTC", "2006-01-02T15:04:05.999999999Z07:00"])'), '2023-12-24T18:58:45.12345679Z');
  assert.equal(ev('1e21 == 1000000000000000000000'), true);
});

test('input and data: big integers from parseJson (or bigint values) stay exact; JS numbers behave as before', () => {
  const input = parseJson('{"id": 18446744073709551615, "small": 42, "f": 0.25}');
  assert.equal((input as { id: unknown }).id, 18446744073709551615n);
  assert.equal(ev('input.id + 1', input), 18446744073709551616n);
  assert.equal(ev('input.id == 18446744073709551615', input), true);
  assert.equal(ev('input.small + 1', input), 43);
  assert.equal(ev('input.id', { id: 5n }), 5); // a safe bigint is a plain number
  // A JS number the caller already parsed (rounded beyond 2^53) still equals its literal, as before.
  assert.equal(ev('input.n == 18446744073709551615', { n: 18446744073709551615 }), true);
  assert.equal(ev('input.n', { n: 18446744073709551615 }), 18446744073709551615); // stays a double
  // Without `bigints`, results stay JSON.stringify-able numbers (callers unchanged).
  const p = compile([{ path: 't.rego', source: 'package t\nx := 12345678901234567890 + 1\n' }]);
  assert.equal(p.evaluate('data.t.x').value, 12345678901234567000);
  assert.equal(toJsonText({ a: 12345678901234567891n, b: ['x'] }), '{"a":12345678901234567891,"b":["x"]}');
  assert.throws(() => parseJson('{"a": 12345678901234567890,}'), SyntaxError);
});

test('decimals: OPA big.Float results by default, IEEE doubles (regorus) on request', () => {
  assert.equal(ev('0.1 + 0.2'), 0.3);
  assert.equal(ev('0.3 - 0.1'), 0.2);
  assert.equal(ev('1.1 * 1.1'), 1.21);
  assert.equal(ev('1 / 4'), 0.25);
  assert.equal(ev('sum([0.1, 0.2])'), 0.3);
  assert.equal(ev('0.1 + 0.2', undefined, { decimals: 'ieee' }), 0.30000000000000004);
  assert.equal(ev('10 / 4'), 2.5);
  assert.equal(ev('12345678901234567890 / 10'), 1234567890123456789n);
});

test('the short-decimal fast path gives exactly the big.Float result', () => {
  let seed = 12345;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const sample = (): number => {
    const digits = 1 + Math.floor(rnd() * 12);
    const m = Math.floor(rnd() * 10 ** digits) * (rnd() < 0.3 ? -1 : 1);
    return Number(`${m}e${Math.floor(rnd() * 16) - 10}`);
  };
  for (let i = 0; i < 2000; i++) {
    const x = sample();
    const y = sample();
    for (const op of ['+', '-', '*'] as const) {
      assert.equal(floatOp(x, y, op, false), floatOp(x, y, op, false, false), `${x} ${op} ${y}`);
    }
  }
});
