/** Encodings and hashes: base64(url), hex, json, yaml, urlquery, crypto.* digests and HMACs. */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import YAML from 'yaml';
import type { Value } from '../value.js';
import { fromJson, jsonText, RObject, toJson } from '../value.js';
import { parseJson, toJsonText } from '../json.js';
import { str } from './check.js';
import { b, BuiltinError } from './types-api.js';
import type { Table } from './types-api.js';

const B64 = /^[A-Za-z0-9+/]*={0,2}$/;
const B64URL = /^[A-Za-z0-9_-]*={0,2}$/;

function b64decode(s: string, url: boolean): string {
  if (!(url ? B64URL : B64).test(s) || (!url && s.length % 4 !== 0)) throw new BuiltinError('illegal base64 data');
  return Buffer.from(s, url ? 'base64url' : 'base64').toString('utf8');
}

/** JSON text with sorted keys; sets become arrays (as OPA marshals them). */
export function jsonMarshal(v: Value): string {
  return jsonText(v);
}

export function jsonUnmarshal(s: string): Value {
  try {
    return fromJson(parseJson(s));
  } catch {
    throw new BuiltinError('json.unmarshal: invalid JSON');
  }
}

const hash = (alg: string) => b(1, (a) => createHash(alg).update(str(a, 0), 'utf8').digest('hex'));
const hmac = (alg: string) => b(3, (a) => createHmac(alg, str(a, 1)).update(str(a, 0), 'utf8').digest('hex'));

export const ENCODING: Table = {
  'base64.encode': b(1, (a) => Buffer.from(str(a, 0), 'utf8').toString('base64')),
  'base64.decode': b(1, (a) => b64decode(str(a, 0), false)),
  'base64.is_valid': b(1, (a) => typeof a[0] === 'string' && B64.test(a[0]) && a[0].length % 4 === 0),
  'base64url.encode': b(1, (a) => {
    const s = Buffer.from(str(a, 0), 'utf8').toString('base64url');
    return s + '='.repeat((4 - (s.length % 4)) % 4);
  }),
  'base64url.encode_no_pad': b(1, (a) => Buffer.from(str(a, 0), 'utf8').toString('base64url')),
  'base64url.decode': b(1, (a) => b64decode(str(a, 0), true)),
  'hex.encode': b(1, (a) => Buffer.from(str(a, 0), 'utf8').toString('hex')),
  'hex.decode': b(1, (a) => {
    const s = str(a, 0);
    if (!/^([0-9a-fA-F]{2})*$/.test(s)) throw new BuiltinError('hex.decode: invalid hex string');
    return Buffer.from(s, 'hex').toString('utf8');
  }),
  'json.marshal': b(1, (a) => jsonMarshal(a[0] as Value)),
  'json.marshal_with_options': b(2, (a) => toJsonText(toJson(a[0] as Value, true), 2)),
  'json.unmarshal': b(1, (a) => jsonUnmarshal(str(a, 0))),
  'json.is_valid': b(1, (a) => {
    if (typeof a[0] !== 'string') return false;
    try {
      JSON.parse(a[0]);
      return true;
    } catch {
      return false;
    }
  }),
  'yaml.marshal': b(1, (a) => YAML.stringify(toJson(a[0] as Value, true))),
  'yaml.unmarshal': b(1, (a) => {
    try {
      return fromJson(YAML.parse(str(a, 0), { intAsBigInt: true }) ?? null);
    } catch (e) {
      if (e instanceof BuiltinError) throw e;
      throw new BuiltinError('yaml.unmarshal: invalid YAML');
    }
  }),
  'yaml.is_valid': b(1, (a) => {
    if (typeof a[0] !== 'string') return false;
    try {
      YAML.parse(a[0]);
      return true;
    } catch {
      return false;
    }
  }),
  'urlquery.encode': b(1, (a) => encodeURIComponent(str(a, 0)).replace(/%20/g, '+').replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase())),
  'urlquery.decode': b(1, (a) => {
    try {
      return decodeURIComponent(str(a, 0).replace(/\+/g, ' '));
    } catch {
      throw new BuiltinError('urlquery.decode: invalid escape');
    }
  }),
  'urlquery.encode_object': b(1, (a) => {
    const o = a[0];
    if (!(o instanceof RObject)) throw new BuiltinError('operand 1 must be object');
    const p = new URLSearchParams();
    for (const [k, v] of o.entries()) {
      const vs = Array.isArray(v) ? v : [v];
      for (const x of vs) p.append(String(k), String(x));
    }
    return p.toString();
  }),
  'crypto.md5': hash('md5'),
  'crypto.sha1': hash('sha1'),
  'crypto.sha256': hash('sha256'),
  'crypto.sha384': hash('sha384'),
  'crypto.sha512': hash('sha512'),
  'crypto.hmac.md5': hmac('md5'),
  'crypto.hmac.sha1': hmac('sha1'),
  'crypto.hmac.sha256': hmac('sha256'),
  'crypto.hmac.sha512': hmac('sha512'),
  'crypto.hmac.equal': b(2, (a) => {
    // SECURITY: MACs are compared in constant time (hash both so lengths always match).
    const x = createHash('sha256').update(str(a, 0)).digest();
    const y = createHash('sha256').update(str(a, 1)).digest();
    return timingSafeEqual(x, y) && str(a, 0) === str(a, 1);
  }),
};
