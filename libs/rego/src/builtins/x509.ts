/**
 * crypto.x509.* and crypto.parse_private_keys. Certificates come out in the shape OPA gives
 * (Go's encoding/json of x509.Certificate): byte fields base64, names as pkix.Name, times
 * RFC 3339, enums as Go's integers, big integers (serial, RSA modulus) as exact numbers.
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { Value } from '../value.js';
import { bigValue, fromJson, objectOf, RObject } from '../value.js';
import { obj, str } from './check.js';
import { EKU_SERVER_AUTH, verifyChain, verifyOptions } from './x509-verify.js';
import { bigInt, children, content, oid, oidArcs, raw, readTlv, text, time } from './der.js';
import type { Tlv } from './der.js';
import { b, BuiltinError } from './types-api.js';
import type { Table } from './types-api.js';

const SIG_ALGS: Record<string, number> = {
  '1.2.840.113549.1.1.4': 2, '1.2.840.113549.1.1.5': 3, '1.2.840.113549.1.1.11': 4, '1.2.840.113549.1.1.12': 5,
  '1.2.840.113549.1.1.13': 6, '1.2.840.10040.4.3': 7, '2.16.840.1.101.3.4.3.2': 8, '1.2.840.10045.4.1': 9,
  '1.2.840.10045.4.3.2': 10, '1.2.840.10045.4.3.3': 11, '1.2.840.10045.4.3.4': 12, '1.2.840.113549.1.1.10': 13, '1.3.101.112': 16,
};
const PK_ALGS: Record<string, number> = { '1.2.840.113549.1.1.1': 1, '1.2.840.10040.4.1': 2, '1.2.840.10045.2.1': 3, '1.3.101.112': 4 };
const NAME_FIELDS: Record<string, string> = {
  '2.5.4.6': 'Country', '2.5.4.10': 'Organization', '2.5.4.11': 'OrganizationalUnit', '2.5.4.7': 'Locality',
  '2.5.4.8': 'Province', '2.5.4.9': 'StreetAddress', '2.5.4.17': 'PostalCode',
};
const EKU = ['2.5.29.37.0', '1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2', '1.3.6.1.5.5.7.3.3', '1.3.6.1.5.5.7.3.4', '1.3.6.1.5.5.7.3.5', '1.3.6.1.5.5.7.3.6', '1.3.6.1.5.5.7.3.7', '1.3.6.1.5.5.7.3.8', '1.3.6.1.5.5.7.3.9'];

const b64 = (b: Buffer): string => b.toString('base64');
const bigOf = (b64url: unknown): Value => bigValue(BigInt('0x' + (Buffer.from(String(b64url), 'base64url').toString('hex') || '0')));

function pkixName(t: Tlv): RObject {
  const f: Record<string, string[]> = {};
  let serial = '';
  let cn = '';
  const names: Value[] = [];
  for (const rdn of children(t)) {
    for (const atv of children(rdn)) {
      const [o, v] = children(atv) as [Tlv, Tlv];
      const value = text(v);
      names.push(objectOf([['Type', oidArcs(o)], ['Value', value]]));
      const id = oid(o);
      if (id === '2.5.4.3') cn = value;
      else if (id === '2.5.4.5') serial = value;
      else if (NAME_FIELDS[id]) (f[NAME_FIELDS[id] as string] ??= []).push(value);
    }
  }
  const out = new RObject();
  for (const k of Object.values(NAME_FIELDS)) out.set(k, f[k] ?? null);
  out.set('SerialNumber', serial);
  out.set('CommonName', cn);
  out.set('Names', names);
  out.set('ExtraNames', null);
  return out;
}

/** Go's JSON of a crypto.PublicKey: RSA {N, E}, ECDSA {Curve: {}, X, Y}, Ed25519 bytes. */
function publicKeyValue(key: KeyObject): Value {
  const jwk = key.export({ format: 'jwk' }) as Record<string, unknown>;
  if (jwk['kty'] === 'RSA') return objectOf([['N', bigOf(jwk['n'])], ['E', Number(bigOf(jwk['e']))]]);
  if (jwk['kty'] === 'EC') return objectOf([['Curve', new RObject()], ['X', bigOf(jwk['x'])], ['Y', bigOf(jwk['y'])]]);
  return b64(Buffer.from(String(jwk['x']), 'base64url'));
}

function uriValue(u: string): Value {
  const m = /^([a-zA-Z][\w+.-]*):(?:\/\/([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?$/.exec(u);
  return objectOf([
    ['Scheme', m?.[1] ?? ''], ['Opaque', ''], ['User', null], ['Host', m?.[2] ?? ''], ['Path', m?.[3] ?? u],
    ['RawPath', ''], ['OmitHost', false], ['ForceQuery', false], ['RawQuery', m?.[4] ?? ''], ['Fragment', m?.[5] ?? ''], ['RawFragment', ''],
  ]);
}

/** Fills Go's extension-derived fields of a certificate or CSR. */
function applyExtensions(out: RObject, exts: Tlv[]): void {
  const list: Value[] = [];
  const dns: Value[] = [];
  const emails: Value[] = [];
  const ips: Value[] = [];
  const uris: Value[] = [];
  for (const e of exts) {
    const parts = children(e);
    const id = parts[0] as Tlv;
    const critical = parts.length === 3 && content(parts[1] as Tlv)[0] !== 0;
    const value = content(parts[parts.length - 1] as Tlv);
    list.push(objectOf([['Id', oidArcs(id)], ['Critical', critical], ['Value', b64(value)]]));
    const inner = readTlv(value, 0);
    switch (oid(id)) {
      case '2.5.29.17':
        for (const g of children(inner)) {
          const tag = g.tag & 0x1f;
          if (tag === 2) dns.push(text(g));
          else if (tag === 1) emails.push(text(g));
          else if (tag === 6) uris.push(uriValue(text(g)));
          else if (tag === 7) ips.push(ipText(content(g)));
        }
        break;
      case '2.5.29.15': {
        const bits = content(inner);
        let usage = 0;
        for (let i = 0; i < (bits.length - 1) * 8 && i < 16; i++) if (((bits[1 + (i >> 3)] as number) >> (7 - (i & 7))) & 1) usage |= 1 << i;
        out.set('KeyUsage', usage);
        break;
      }
      case '2.5.29.19': {
        const [ca, len] = children(inner);
        const isCa = ca?.tag === 0x01 && content(ca)[0] !== 0;
        const path = ca?.tag === 0x02 ? ca : len;
        const max = path ? Number(bigInt(path)) : -1;
        out.set('BasicConstraintsValid', true);
        out.set('IsCA', isCa);
        out.set('MaxPathLen', max);
        out.set('MaxPathLenZero', max === 0);
        break;
      }
      case '2.5.29.37': {
        const known: Value[] = [];
        const unknown: Value[] = [];
        for (const o of children(inner)) {
          const i = EKU.indexOf(oid(o));
          if (i >= 0) known.push(i);
          else unknown.push(oidArcs(o));
        }
        out.set('ExtKeyUsage', known.length ? known : null);
        out.set('UnknownExtKeyUsage', unknown.length ? unknown : null);
        break;
      }
      case '2.5.29.14':
        out.set('SubjectKeyId', b64(content(inner)));
        break;
      case '2.5.29.35': {
        const kid = children(inner).find((c) => (c.tag & 0x1f) === 0);
        if (kid) out.set('AuthorityKeyId', b64(content(kid)));
        break;
      }
    }
  }
  out.set('Extensions', list.length ? list : null);
  out.set('DNSNames', dns.length ? dns : null);
  out.set('EmailAddresses', emails.length ? emails : null);
  out.set('IPAddresses', ips.length ? ips : null);
  out.set('URIs', uris.length ? uris : null);
}

function ipText(b: Buffer): string {
  if (b.length === 4) return [...b].join('.');
  const groups: string[] = [];
  for (let i = 0; i + 1 < b.length; i += 2) groups.push(b.readUInt16BE(i).toString(16));
  return groups.join(':').replace(/\b(?:0:){2,}/, ':').replace(/^0::/, '::');
}

function certValue(der: Buffer): RObject {
  const [tbs, sigAlg, sig] = children(readTlv(der, 0)) as [Tlv, Tlv, Tlv];
  let f = children(tbs);
  let version = 1;
  if ((f[0] as Tlv).tag === 0xa0) {
    version = Number(bigInt(children(f[0] as Tlv)[0] as Tlv)) + 1;
    f = f.slice(1);
  }
  const [serial, , issuer, validity, subject, spki] = f as [Tlv, Tlv, Tlv, Tlv, Tlv, Tlv];
  const [notBefore, notAfter] = children(validity) as [Tlv, Tlv];
  const out = new RObject();
  out.set('Raw', b64(der));
  out.set('RawTBSCertificate', b64(raw(tbs)));
  out.set('RawSubjectPublicKeyInfo', b64(raw(spki)));
  out.set('RawSubject', b64(raw(subject)));
  out.set('RawIssuer', b64(raw(issuer)));
  out.set('Signature', b64(content(sig).subarray(1)));
  out.set('SignatureAlgorithm', SIG_ALGS[oid(children(sigAlg)[0] as Tlv)] ?? 0);
  out.set('PublicKeyAlgorithm', PK_ALGS[oid(children(children(spki)[0] as Tlv)[0] as Tlv)] ?? 0);
  out.set('PublicKey', publicKeyValue(createPublicKey({ key: raw(spki), format: 'der', type: 'spki' })));
  out.set('Version', version);
  out.set('SerialNumber', bigValue(bigInt(serial)));
  out.set('Issuer', pkixName(issuer));
  out.set('Subject', pkixName(subject));
  out.set('NotBefore', time(notBefore));
  out.set('NotAfter', time(notAfter));
  for (const [k, v] of [['KeyUsage', 0], ['BasicConstraintsValid', false], ['IsCA', false], ['MaxPathLen', 0], ['MaxPathLenZero', false], ['ExtKeyUsage', null], ['UnknownExtKeyUsage', null], ['SubjectKeyId', null], ['AuthorityKeyId', null]] as const) out.set(k, v);
  const ext = f.find((t) => t.tag === 0xa3);
  applyExtensions(out, ext ? children(children(ext)[0] as Tlv) : []);
  return out;
}

/** DER blobs of a PEM text, a base64 PEM text, or base64 (concatenated) DER. */
function ders(input: string, label: string): Buffer[] {
  let s = input;
  if (!s.includes('-----BEGIN')) {
    const decoded = Buffer.from(s.replace(/\s+/g, ''), 'base64');
    const asText = decoded.toString('latin1');
    if (!asText.includes('-----BEGIN')) {
      const out: Buffer[] = [];
      for (let off = 0; off < decoded.length; ) {
        const t = readTlv(decoded, off);
        out.push(decoded.subarray(off, t.end));
        off = t.end;
      }
      return out;
    }
    s = asText;
  }
  const re = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`, 'g');
  return [...s.matchAll(re)].map((m) => Buffer.from((m[1] as string).replace(/\s+/g, ''), 'base64'));
}

export function parseCerts(input: string): { ders: Buffer[]; values: RObject[] } {
  try {
    const list = ders(input, 'CERTIFICATE');
    return { ders: list, values: list.map(certValue) };
  } catch (e) {
    throw e instanceof BuiltinError ? e : new BuiltinError('crypto.x509: invalid certificate data');
  }
}

function csrValue(der: Buffer): RObject {
  const [info, sigAlg, sig] = children(readTlv(der, 0)) as [Tlv, Tlv, Tlv];
  const [version, subject, spki, attrs] = children(info) as [Tlv, Tlv, Tlv, Tlv?];
  const out = new RObject();
  out.set('Raw', b64(der));
  out.set('RawTBSCertificateRequest', b64(raw(info)));
  out.set('RawSubjectPublicKeyInfo', b64(raw(spki)));
  out.set('RawSubject', b64(raw(subject)));
  out.set('Version', Number(bigInt(version)));
  out.set('Signature', b64(content(sig).subarray(1)));
  out.set('SignatureAlgorithm', SIG_ALGS[oid(children(sigAlg)[0] as Tlv)] ?? 0);
  out.set('PublicKeyAlgorithm', PK_ALGS[oid(children(children(spki)[0] as Tlv)[0] as Tlv)] ?? 0);
  out.set('PublicKey', publicKeyValue(createPublicKey({ key: raw(spki), format: 'der', type: 'spki' })));
  out.set('Subject', pkixName(subject));
  out.set('Attributes', null);
  out.set('ExtraExtensions', null);
  let exts: Tlv[] = [];
  for (const a of attrs ? children(attrs) : []) {
    const [o, vals] = children(a) as [Tlv, Tlv];
    if (oid(o) === '1.2.840.113549.1.9.14') exts = children(children(vals)[0] as Tlv);
  }
  applyExtensions(out, exts);
  return out;
}

/** Go's JSON of an RSA / ECDSA private key (big integers exact), or Ed25519 bytes. */
function privateKeyValue(key: KeyObject): Value {
  const j = key.export({ format: 'jwk' }) as Record<string, unknown>;
  if (j['kty'] === 'RSA') {
    return objectOf([
      ['N', bigOf(j['n'])], ['E', Number(bigOf(j['e']))], ['D', bigOf(j['d'])], ['Primes', [bigOf(j['p']), bigOf(j['q'])]],
      ['Precomputed', objectOf([['Dp', bigOf(j['dp'])], ['Dq', bigOf(j['dq'])], ['Qinv', bigOf(j['qi'])], ['CRTValues', []]])],
    ]);
  }
  if (j['kty'] === 'EC') return objectOf([['Curve', new RObject()], ['X', bigOf(j['x'])], ['Y', bigOf(j['y'])], ['D', bigOf(j['d'])]]);
  return b64(Buffer.concat([Buffer.from(String(j['d']), 'base64url'), Buffer.from(String(j['x']), 'base64url')]));
}

const PRIVATE_PEM = /-----BEGIN ((?:RSA |EC )?PRIVATE KEY)-----[\s\S]*?-----END \1-----/g;

export const X509: Table = {
  'crypto.x509.parse_certificates': b(1, (a) => parseCerts(str(a, 0)).values),
  'crypto.x509.parse_and_verify_certificates': b(1, (a, ctx) => {
    const { ders: list, values } = parseCerts(str(a, 0));
    return verifyChain(list, values, { nowMs: Number(ctx.nowNs / 1000000n), usages: [EKU_SERVER_AUTH] }) ? [true, values] : [false, []];
  }),
  'crypto.x509.parse_and_verify_certificates_with_options': b(2, (a, ctx) => {
    const { ders: list, values } = parseCerts(str(a, 0));
    return verifyChain(list, values, verifyOptions(obj(a, 1), ctx.nowNs)) ? [true, values] : [false, []];
  }),
  'crypto.x509.parse_certificate_request': b(1, (a) => {
    const list = ders(str(a, 0), 'CERTIFICATE REQUEST');
    if (list.length !== 1) throw new BuiltinError('crypto.x509.parse_certificate_request: expected one certificate request');
    return csrValue(list[0] as Buffer);
  }),
  'crypto.x509.parse_rsa_private_key': b(1, (a) => {
    const pem = str(a, 0).includes('-----BEGIN') ? str(a, 0) : Buffer.from(str(a, 0), 'base64').toString('latin1');
    try {
      const key = createPrivateKey(pem);
      if (key.asymmetricKeyType !== 'rsa') throw new Error('not rsa');
      return fromJson(key.export({ format: 'jwk' }));
    } catch {
      throw new BuiltinError('crypto.x509.parse_rsa_private_key: not a PEM-encoded RSA private key');
    }
  }),
  'crypto.parse_private_keys': b(1, (a) => {
    const s = str(a, 0);
    if (s === '') return [];
    const pem = s.includes('-----BEGIN') ? s : Buffer.from(s, 'base64').toString('latin1');
    try {
      return [...pem.matchAll(PRIVATE_PEM)].map((m) => privateKeyValue(createPrivateKey(m[0])));
    } catch {
      throw new BuiltinError('crypto.parse_private_keys: invalid private key data');
    }
  }),
};
