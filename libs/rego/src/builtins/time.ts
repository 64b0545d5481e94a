/**
 * time.* builtins. Times are ns since the epoch: results are exact (bigint beyond 2^53, as
 * OPA's int64); a double argument beyond 2^53 is only good to the microsecond.
 */
import type { Value } from '../value.js';
import { normBig } from '../numeric.js';
import { formatPrint } from '../format.js';
import { fail, int, str } from './check.js';
import { formatLayout, parseLayout } from './time-layout.js';
import type { Wall } from './time-layout.js';
import { b, BuiltinError } from './types-api.js';
import type { Table } from './types-api.js';

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MAX_NS = 9.223372036854776e18;

export function parseRfc3339(s: string): number | bigint {
  const m = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.exec(s);
  if (!m) throw new BuiltinError(`parsing time ${JSON.stringify(s)} as RFC3339 failed`);
  const [, y, mo, d, h, mi, se, frac, tz] = m as unknown as string[];
  let ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(se));
  if (tz !== 'Z' && tz !== 'z') {
    const sign = (tz as string)[0] === '-' ? -1 : 1;
    ms -= sign * (Number((tz as string).slice(1, 3)) * 60 + Number((tz as string).slice(4, 6))) * 60000;
  }
  const fracNs = frac ? Number((frac.slice(1) + '000000000').slice(0, 9)) : 0;
  // Exact ns (beyond 2^53 since 1970-04-15), as OPA's int64.
  return normBig(BigInt(ms) * 1000000n + BigInt(fracNs));
}

/** Splits ns into whole ms since epoch and the ns remainder (0..999999). */
function splitNs(ns: number | bigint): { ms: number; sub: number } {
  // A bigint is exact; a double beyond 2^53 is only good to the microsecond.
  let big = typeof ns === 'bigint' ? ns : BigInt(Math.round(ns));
  if (typeof ns === 'number' && (ns > 2 ** 53 || ns < -(2 ** 53))) big = ((big + 500n) / 1000n) * 1000n;
  let ms = big / 1000000n;
  let sub = big % 1000000n;
  if (sub < 0n) {
    sub += 1000000n;
    ms -= 1n;
  }
  return { ms: Number(ms), sub: Number(sub) };
}

const fmtCache = new Map<string, Intl.DateTimeFormat>();
function offsetMinutes(ms: number, tz: string): number {
  if (tz === '' || tz === 'UTC') return 0;
  if (tz === 'Local') return -new Date(ms).getTimezoneOffset();
  let f = fmtCache.get(tz);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    } catch {
      throw new BuiltinError(`unknown time zone ${tz}`);
    }
    fmtCache.set(tz, f);
  }
  const p: Record<string, number> = {};
  for (const part of f.formatToParts(new Date(ms))) if (part.type !== 'literal') p[part.type] = Number(part.value);
  const asUtc = Date.UTC(p['year'] ?? 1970, (p['month'] ?? 1) - 1, p['day'] ?? 1, p['hour'] ?? 0, p['minute'] ?? 0, p['second'] ?? 0);
  return Math.round((asUtc - Math.floor(ms / 1000) * 1000) / 60000);
}

export function wallOf(ns: number | bigint, tz: string): Wall {
  const { ms, sub } = splitNs(ns);
  const off = offsetMinutes(ms, tz);
  const d = new Date(ms + off * 60000);
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
    nanos: d.getUTCMilliseconds() * 1e6 + sub,
    weekday: d.getUTCDay(),
    offsetMin: off,
    tzName: tz === '' ? 'UTC' : tz,
  };
}

function nsArg(a: Value[], i: number, extra = false): { ns: number | bigint; tz: string; layout: string | undefined } {
  const v = a[i] as Value;
  if (typeof v === 'number' || typeof v === 'bigint') return { ns: v, tz: 'UTC', layout: undefined };
  if (Array.isArray(v) && (typeof v[0] === 'number' || typeof v[0] === 'bigint') && (v.length === 2 || (extra && v.length === 3))) {
    const tz = v[1];
    if (typeof tz !== 'string') return fail(`expects 2nd element of \`ns\` to be a \`string\`. Got \`${formatPrint(tz as Value, false)}\` instead`);
    const layout = v[2];
    if (layout !== undefined && typeof layout !== 'string') return fail(`expects 3rd element of \`ns\` to be a \`string\`. Got \`${formatPrint(layout, false)}\` instead`);
    return { ns: v[0] as number | bigint, tz, layout };
  }
  return fail(`expects \`ns\` to be a \`number\` or \`array[number, string]\`. Got \`${formatPrint(v, false)}\` instead`);
}

function parseDuration(s: string): number {
  const units: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  let rest = s;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    sign = rest[0] === '-' ? -1 : 1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') throw new BuiltinError(`time: invalid duration ${JSON.stringify(s)}`);
  let total = 0;
  const re = /^(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/;
  while (rest.length > 0) {
    const m = re.exec(rest);
    if (!m) throw new BuiltinError(`time: invalid duration ${JSON.stringify(s)}`);
    const [whole, frac = ''] = (m[1] as string).split('.') as [string, string?];
    const unit = units[m[2] as string] as number;
    total += Number(whole || '0') * unit + (frac ? Math.floor(Number('0.' + frac) * unit) : 0);
    rest = rest.slice(m[0].length);
  }
  return sign * total;
}

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

export const TIME: Table = {
  'time.now_ns': b(0, (_a, ctx) => normBig(ctx.nowNs)),
  'time.parse_rfc3339_ns': b(1, (a) => parseRfc3339(str(a, 0))),
  'time.parse_ns': b(2, (a) => parseLayout(str(a, 0), str(a, 1))),
  'time.parse_duration_ns': b(1, (a) => parseDuration(str(a, 0))),
  'time.date': b(1, (a) => {
    const { ns, tz } = nsArg(a, 0);
    const w = wallOf(ns, tz);
    return [w.year, w.month, w.day];
  }),
  'time.clock': b(1, (a) => {
    const { ns, tz } = nsArg(a, 0);
    const w = wallOf(ns, tz);
    return [w.hour, w.minute, w.second];
  }),
  'time.weekday': b(1, (a) => {
    const { ns, tz } = nsArg(a, 0);
    return DAYS[wallOf(ns, tz).weekday] as string;
  }),
  'time.format': b(1, (a) => {
    const { ns, tz, layout } = nsArg(a, 0, true);
    const w = wallOf(ns, tz);
    if (layout !== undefined) return formatLayout(w, layout);
    // RFC 3339 with the fraction in groups of three digits (what regorus prints).
    const digits = w.nanos === 0 ? '' : w.nanos % 1e6 === 0 ? '.000' : w.nanos % 1e3 === 0 ? '.000000' : '.000000000';
    return formatLayout(w, `2006-01-02T15:04:05${digits}Z07:00`);
  }),
  'time.add_date': b(4, (a) => {
    const { ns } = nsArg(a, 0);
    const y = int(a, 1);
    const mo = int(a, 2);
    const d = int(a, 3);
    const { ms, sub } = splitNs(ns);
    const t = new Date(ms);
    const nd = Date.UTC(t.getUTCFullYear() + y, t.getUTCMonth() + mo, t.getUTCDate() + d, t.getUTCHours(), t.getUTCMinutes(), t.getUTCSeconds(), t.getUTCMilliseconds());
    if (!Number.isFinite(nd)) return undefined;
    const out = BigInt(nd) * 1000000n + BigInt(sub);
    if (Math.abs(Number(out)) > MAX_NS) return undefined;
    return normBig(out);
  }),
  'time.diff': b(2, (a) => {
    const x = nsArg(a, 0);
    const y = nsArg(a, 1);
    let w1 = wallOf(x.ns, x.tz);
    let w2 = wallOf(y.ns, y.tz);
    if (x.ns > y.ns) [w1, w2] = [w2, w1];
    let year = w2.year - w1.year;
    let month = w2.month - w1.month;
    let day = w2.day - w1.day;
    let hour = w2.hour - w1.hour;
    let min = w2.minute - w1.minute;
    let sec = w2.second - w1.second;
    if (sec < 0) (sec += 60), min--;
    if (min < 0) (min += 60), hour--;
    if (hour < 0) (hour += 24), day--;
    if (day < 0) (day += daysIn(w1.year, w1.month)), month--;
    if (month < 0) (month += 12), year--;
    return [year, month, day, hour, min, sec];
  }),
};
