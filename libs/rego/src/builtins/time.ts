/** time.* builtins. Times are ns since the epoch (JS numbers: exact to about 2^53). */
import { str } from './check.js';
import { b, BuiltinError } from './types-api.js';
import type { Table } from './types-api.js';

export function parseRfc3339(s: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.exec(s);
  if (!m) throw new BuiltinError(`parsing time ${JSON.stringify(s)} as RFC3339 failed`);
  const [, y, mo, d, h, mi, se, frac, tz] = m as unknown as string[];
  let ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(se));
  if (tz !== 'Z' && tz !== 'z') {
    const sign = (tz as string)[0] === '-' ? -1 : 1;
    ms -= sign * (Number((tz as string).slice(1, 3)) * 60 + Number((tz as string).slice(4, 6))) * 60000;
  }
  const fracNs = frac ? Number((frac.slice(1) + '000000000').slice(0, 9)) : 0;
  return ms * 1e6 + fracNs;
}

export const TIME: Table = {
  'time.now_ns': b(0, (_a, ctx) => Number(ctx.nowNs)),
  'time.parse_rfc3339_ns': b(1, (a) => parseRfc3339(str(a, 0))),
};
