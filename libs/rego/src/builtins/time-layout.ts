/** Go reference-time layouts ("2006-01-02T15:04:05Z07:00") for time.format and time.parse_ns. */
import { normBig } from '../numeric.js';
import { BuiltinError } from './types-api.js';

export interface Wall {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  nanos: number;
  weekday: number;
  offsetMin: number;
  tzName: string;
}

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const TOKENS = [
  'January', 'Monday', 'Z07:00:00', '-07:00:00', 'Z07:00', '-07:00', 'Z0700', '-0700', 'Z07', '-07', 'MST',
  '2006', 'Jan', 'Mon', '002', '01', '02', '_2', '03', '04', '05', '06', '15', 'PM', 'pm', '1', '2', '3', '4', '5',
];

function tokenize(layout: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < layout.length) {
    const frac = /^[.,](0+|9+)/.exec(layout.slice(i));
    if (frac && !/\d/.test(layout[i + frac[0].length] ?? '')) {
      out.push('\u0000' + frac[0]);
      i += frac[0].length;
      continue;
    }
    const tok = TOKENS.find((t) => layout.startsWith(t, i));
    if (tok) {
      out.push('\u0000' + tok);
      i += tok.length;
    } else {
      out.push(layout[i] as string);
      i++;
    }
  }
  return out;
}

const p2 = (n: number): string => String(n).padStart(2, '0');

function offset(w: Wall, tok: string): string {
  if (tok.startsWith('Z') && w.offsetMin === 0) return 'Z';
  const sign = w.offsetMin < 0 ? '-' : '+';
  const h = p2(Math.floor(Math.abs(w.offsetMin) / 60));
  const m = p2(Math.abs(w.offsetMin) % 60);
  const body = tok.replace(/^Z/, '-');
  if (body === '-07') return sign + h;
  if (body === '-0700') return sign + h + m;
  if (body === '-07:00:00') return `${sign}${h}:${m}:00`;
  return `${sign}${h}:${m}`;
}

export function formatLayout(w: Wall, layout: string): string {
  let out = '';
  for (const t of tokenize(layout)) {
    if (!t.startsWith('\u0000')) {
      out += t;
      continue;
    }
    const tok = t.slice(1);
    if ((tok[0] === '.' || tok[0] === ',') && (tok[1] === '0' || tok[1] === '9')) {
      const digits = String(w.nanos).padStart(9, '0').slice(0, tok.length - 1);
      if (tok[1] === '9') {
        const trimmed = digits.replace(/0+$/, '');
        out += trimmed ? tok[0] + trimmed : '';
      } else out += tok[0] + digits;
      continue;
    }
    switch (tok) {
      case '2006': out += String(w.year).padStart(4, '0'); break;
      case '06': out += p2(w.year % 100); break;
      case 'January': out += MONTHS[w.month - 1]; break;
      case 'Jan': out += (MONTHS[w.month - 1] as string).slice(0, 3); break;
      case '01': out += p2(w.month); break;
      case '1': out += String(w.month); break;
      case 'Monday': out += DAYS[w.weekday]; break;
      case 'Mon': out += (DAYS[w.weekday] as string).slice(0, 3); break;
      case '02': out += p2(w.day); break;
      case '_2': out += String(w.day).padStart(2, ' '); break;
      case '2': out += String(w.day); break;
      case '15': out += p2(w.hour); break;
      case '03': out += p2(w.hour % 12 === 0 ? 12 : w.hour % 12); break;
      case '3': out += String(w.hour % 12 === 0 ? 12 : w.hour % 12); break;
      case '04': out += p2(w.minute); break;
      case '4': out += String(w.minute); break;
      case '05': out += p2(w.second); break;
      case '5': out += String(w.second); break;
      case 'PM': out += w.hour >= 12 ? 'PM' : 'AM'; break;
      case 'pm': out += w.hour >= 12 ? 'pm' : 'am'; break;
      case 'MST': out += w.tzName; break;
      case '002': out += String(Math.floor((Date.UTC(w.year, w.month - 1, w.day) - Date.UTC(w.year, 0, 1)) / 86400000) + 1).padStart(3, '0'); break;
      default: out += offset(w, tok);
    }
  }
  return out;
}

/** Parses `value` with a Go layout; returns ns since the epoch. */
export function parseLayout(layout: string, value: string): number | bigint {
  const f = { year: 1, month: 1, day: 1, hour: 0, minute: 0, second: 0, nanos: 0, off: 0, pm: undefined as boolean | undefined };
  let i = 0;
  const bad = (): never => {
    throw new BuiltinError(`cannot parse ${JSON.stringify(value)} as ${JSON.stringify(layout)}`);
  };
  const num = (min: number, max: number): number => {
    const m = new RegExp(`^\\d{${min},${max}}`).exec(value.slice(i)) ?? bad();
    i += m[0].length;
    return Number(m[0]);
  };
  for (const t of tokenize(layout)) {
    if (!t.startsWith('\u0000')) {
      if (value[i] !== t) bad();
      i++;
      continue;
    }
    const tok = t.slice(1);
    if ((tok[0] === '.' || tok[0] === ',') && (tok[1] === '0' || tok[1] === '9')) {
      const m = /^[.,](\d+)/.exec(value.slice(i));
      if (!m) {
        if (tok[1] === '9') continue;
        bad();
      }
      f.nanos = Number(((m as RegExpExecArray)[1] as string).padEnd(9, '0').slice(0, 9));
      i += (m as RegExpExecArray)[0].length;
      continue;
    }
    switch (tok) {
      case '2006': f.year = num(4, 4); break;
      case '06': f.year = 2000 + num(2, 2); break;
      case '01': case '1': f.month = num(tok.length, 2); break;
      case 'January': case 'Jan': {
        const idx = MONTHS.findIndex((mo) => value.startsWith(tok === 'Jan' ? mo.slice(0, 3) : mo, i));
        if (idx < 0) bad();
        i += tok === 'Jan' ? 3 : (MONTHS[idx] as string).length;
        f.month = idx + 1;
        break;
      }
      case 'Monday': case 'Mon': {
        const idx = DAYS.findIndex((d) => value.startsWith(tok === 'Mon' ? d.slice(0, 3) : d, i));
        if (idx < 0) bad();
        i += tok === 'Mon' ? 3 : (DAYS[idx] as string).length;
        break;
      }
      case '02': case '2': f.day = num(tok.length, 2); break;
      case '_2': if (value[i] === ' ') i++; f.day = num(1, 2); break;
      case '15': f.hour = num(1, 2); break;
      case '03': case '3': f.hour = num(tok.length, 2); break;
      case '04': case '4': f.minute = num(tok.length, 2); break;
      case '05': case '5': f.second = num(tok.length, 2); break;
      case 'PM': case 'pm': f.pm = value.slice(i, i + 2).toUpperCase() === 'PM'; i += 2; break;
      case 'MST': { const m = /^[A-Za-z]+/.exec(value.slice(i)) ?? bad(); i += m[0].length; break; }
      default: {
        if (tok.startsWith('Z') && value[i] === 'Z') { i++; break; }
        const m = /^([+-])(\d{2}):?(\d{2})?(?::?\d{2})?/.exec(value.slice(i)) ?? bad();
        f.off = (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3] ?? 0));
        i += m[0].length;
      }
    }
  }
  if (i !== value.length) bad();
  if (f.pm !== undefined) f.hour = (f.hour % 12) + (f.pm ? 12 : 0);
  const ms = Date.UTC(f.year, f.month - 1, f.day, f.hour, f.minute, f.second) - f.off * 60000;
  return normBig(BigInt(ms) * 1000000n + BigInt(f.nanos));
}
