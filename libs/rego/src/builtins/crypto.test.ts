import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fixturePath } from '@kata-cc/testing';
import { importJWK, importPKCS8, jwtVerify, SignJWT } from 'jose';
import { compile } from '../index.js';

const fx = (name: string) => readFileSync(fixturePath(import.meta.url, `testdata/${name}`), 'utf8');

/** Evaluates `x := <expr>` in a v1 module with `input`. */
function ev(expr: string, input?: unknown, strict = true): unknown {
  const p = compile([{ path: 't.rego', source: `package t\nimport rego.v1\nx := ${expr}\n` }], { strictBuiltinErrors: strict });
  return p.evaluate('data.t.x', input).value;
}

test('io.jwt.verify_* accept tokens signed by jose (PEM key, certificate, JWKS) and reject tampering', async () => {
  const rsaPem = fx('leaf.key');
  const rsa = await importPKCS8(rsaPem, 'RS256');
  const rs = await new SignJWT({ sub: 'alice' }).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).sign(rsa);
  const ps = await new SignJWT({ sub: 'alice' }).setProtectedHeader({ alg: 'PS384' }).sign(await importPKCS8(rsaPem, 'PS384'));
  const es = await new SignJWT({ sub: 'bob' }).setProtectedHeader({ alg: 'ES256' }).sign(await importPKCS8(fx('root.key'), 'ES256'));
  const ed = generateKeyPairSync('ed25519');
  const eddsa = await new SignJWT({ n: 1 }).setProtectedHeader({ alg: 'EdDSA' }).sign(ed.privateKey);
  const hs = await new SignJWT({ n: 2 }).setProtectedHeader({ alg: 'HS512' }).sign(Buffer.from('s3cret'));
  const jwk = { ...(await import('node:crypto')).createPublicKey(rsaPem).export({ format: 'jwk' }), kid: 'k1' };
  const input = {
    rs, ps, es, eddsa, hs,
    cert: fx('leaf.pem'),
    rootCert: fx('root.pem'),
    edPub: ed.publicKey.export({ format: 'pem', type: 'spki' }),
    jwks: JSON.stringify({ keys: [jwk] }),
  };
  assert.equal(ev('io.jwt.verify_rs256(input.rs, input.cert)', input), true);
  assert.equal(ev('io.jwt.verify_rs256(input.rs, input.jwks)', input), true);
  assert.equal(ev('io.jwt.verify_rs256(input.rs, input.rootCert)', input), false);
  assert.equal(ev('io.jwt.verify_rs512(input.rs, input.cert)', input), false);
  // Relabelling the header breaks the signature (the header is signed input).
  const relabelled = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${rs.split('.')[1]}.${rs.split('.')[2]}`;
  assert.equal(ev('io.jwt.verify_rs256(input.t, input.cert)', { ...input, t: relabelled }), false);

  assert.equal(ev('io.jwt.verify_ps384(input.ps, input.cert)', input), true);
  assert.equal(ev('io.jwt.verify_es256(input.es, input.rootCert)', input), true);
  assert.equal(ev('io.jwt.verify_eddsa(input.eddsa, input.edPub)', input), true);
  assert.equal(ev('io.jwt.verify_hs512(input.hs, "s3cret")', input), true);
  assert.equal(ev('io.jwt.verify_hs512(input.hs, "wrong")', input), false);
  const tampered = rs.replace(/\.[^.]+\./, `.${Buffer.from('{"sub":"mallory"}').toString('base64url')}.`);
  assert.equal(ev('io.jwt.verify_rs256(input.t, input.cert)', { ...input, t: tampered }), false);
});

test('io.jwt.decode_verify checks signature, alg, exp/nbf against time, iss and aud', async () => {
  const secret = Buffer.from('k');
  const tok = await new SignJWT({ iss: 'kbs', aud: ['a', 'b'], exp: 2000, nbf: 1000 }).setProtectedHeader({ alg: 'HS256' }).sign(secret);
  const dv = (c: string) => ev(`io.jwt.decode_verify(input.t, ${c})`, { t: tok });
  // The token has an audience, so the constraints must name one.
  assert.deepEqual(dv('{"secret": "k", "time": 1500000000000}'), [false, {}, {}]);
  assert.deepEqual(dv('{"secret": "k", "time": 1500000000000, "aud": "b"}'), [true, { alg: 'HS256' }, { aud: ['a', 'b'], exp: 2000, iss: 'kbs', nbf: 1000 }]);
  assert.deepEqual((dv('{"secret": "k", "time": 1500000000000, "aud": "a", "iss": "kbs"}') as unknown[])[0], true);
  assert.deepEqual(dv('{"secret": "k", "time": 2500000000000, "aud": "a"}'), [false, {}, {}]);
  assert.deepEqual(dv('{"secret": "k", "time": 500000000000, "aud": "a"}'), [false, {}, {}]);
  assert.deepEqual(dv('{"secret": "k", "time": 1500000000000, "aud": "c"}'), [false, {}, {}]);
  assert.deepEqual(dv('{"secret": "k", "time": 1500000000000, "aud": "a", "iss": "x"}'), [false, {}, {}]);
  assert.deepEqual(dv('{"secret": "k", "time": 1500000000000, "aud": "a", "alg": "RS256"}'), [false, {}, {}]);
  // SECURITY: an HMAC token is never checked against a public key given as `cert`.
  assert.deepEqual(dv(`{"cert": ${JSON.stringify(fx('leaf.pem'))}, "aud": "a", "time": 1500000000000}`), [false, {}, {}]);
  assert.throws(() => dv('{"secret": "k", "bogus": 1}'), /unknown token validation constraint/);
  assert.throws(() => dv('{"secret": "k", "cert": "x"}'), /duplicate key constraints/);
  assert.throws(() => dv('{"aud": "a"}'), /no key constraint/);
  assert.throws(() => dv('{"secret": "k", "time": -1}'), /must be a non-negative number/);
  // As OPA: a token without `iss` passes an `iss` constraint; a `crit` header we do not know fails.
  const noIss = await new SignJWT({ sub: 'x' }).setProtectedHeader({ alg: 'HS256' }).sign(secret);
  assert.equal((ev('io.jwt.decode_verify(input, {"secret": "k", "iss": "kbs"})', noIss) as unknown[])[0], true);
  const crit = await new SignJWT({ sub: 'x' }).setProtectedHeader({ alg: 'HS256', crit: ['x-unknown'], 'x-unknown': 1 }).sign(secret, { crit: { 'x-unknown': true } });
  assert.deepEqual(ev('io.jwt.decode_verify(input, {"secret": "k"})', crit), [false, {}, {}]);
  // Nested token (cty: JWT): both levels verify, the inner claims come out.
  const inner = await new SignJWT({ sub: 'inner', big: 1 }).setProtectedHeader({ alg: 'HS256' }).sign(secret);
  assert.throws(() => ev('io.jwt.encode_sign_raw(`{"alg":"HS256"}`, input, `{"kty":"oct","k":"aw"}`)', inner), /payload is not JSON/);
  const outer = ev('io.jwt.encode_sign_raw(`{"alg":"HS256","typ":"JOSE","cty":"JWT"}`, input, `{"kty":"oct","k":"aw"}`)', inner) as string;
  const nested = ev('io.jwt.decode_verify(input, {"secret": "k"})', outer) as unknown[];
  assert.equal(nested[0], true);
  assert.deepEqual(nested[2], { big: 1, sub: 'inner' });
});

test('io.jwt.encode_sign and encode_sign_raw produce tokens that jose verifies', async () => {
  const { createPrivateKey, createPublicKey } = await import('node:crypto');
  const jwk = createPrivateKey(fx('root.key')).export({ format: 'jwk' });
  const es = ev('io.jwt.encode_sign({"alg": "ES256", "typ": "JWT"}, {"sub": "x", "n": 1}, input.k)', { k: jwk }) as string;
  const r = await jwtVerify(es, await importJWK(createPublicKey(fx('root.key')).export({ format: 'jwk' }), 'ES256'));
  assert.deepEqual(r.payload, { n: 1, sub: 'x' });
  const oct = { kty: 'oct', k: Buffer.from('s3cret').toString('base64url') };
  const hs = ev('io.jwt.encode_sign_raw(`{"alg":"HS256"}`, `{"a":1}`, input.k)', { k: JSON.stringify(oct) }) as string;
  assert.equal(hs.split('.')[0], Buffer.from('{"alg":"HS256"}').toString('base64url'));
  assert.equal(ev('io.jwt.verify_hs256(input.t, "s3cret")', { t: hs }), true);
  assert.deepEqual((await jwtVerify(hs, Buffer.from('s3cret'))).payload, { a: 1 });
});

test('crypto.x509.parse_certificates gives Go x509.Certificate fields; chains verify root-first', () => {
  const [leaf] = ev('crypto.x509.parse_certificates(input)', fx('leaf.pem')) as Record<string, unknown>[];
  assert.ok(leaf);
  assert.equal(leaf['Version'], 3);
  assert.equal(leaf['SerialNumber'], 42);
  assert.deepEqual(leaf['DNSNames'], ['leaf.example.com', '*.leaf.example.com']);
  assert.deepEqual(leaf['IPAddresses'], ['10.0.0.1']);
  assert.equal((leaf['URIs'] as Record<string, unknown>[])[0]?.['Host'], 'example.com');
  assert.deepEqual(leaf['ExtKeyUsage'], [1, 2]);
  assert.equal(leaf['KeyUsage'], 5); // digitalSignature | keyEncipherment
  assert.equal(leaf['IsCA'], false);
  assert.equal(leaf['SignatureAlgorithm'], 10); // ECDSAWithSHA256
  assert.equal(leaf['PublicKeyAlgorithm'], 1); // RSA
  const subject = leaf['Subject'] as Record<string, unknown>;
  assert.equal(subject['CommonName'], 'leaf.example.com');
  assert.deepEqual(subject['OrganizationalUnit'], ['Tests']);
  assert.deepEqual((leaf['Issuer'] as Record<string, unknown>)['Country'], ['US']);
  assert.match(String(leaf['NotBefore']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  // base64 DER input, and the root (CA, big serial).
  const der = Buffer.from(fx('root.pem').replace(/-----[^-]+-----|\s/g, ''), 'base64').toString('base64');
  const [root] = ev('crypto.x509.parse_certificates(input)', der) as Record<string, unknown>[];
  assert.equal(root?.['IsCA'], true);
  assert.equal(root?.['MaxPathLen'], -1);
  const chain = fx('root.pem') + fx('leaf.pem');
  const ok = ev('crypto.x509.parse_and_verify_certificates(input)', chain) as unknown[];
  assert.equal(ok[0], true);
  assert.equal((ok[1] as unknown[]).length, 2);
  assert.deepEqual(ev('crypto.x509.parse_and_verify_certificates(input)', fx('leaf.pem') + fx('root.pem')), [false, []]);
  assert.deepEqual(ev('crypto.x509.parse_and_verify_certificates(input)', fx('root.pem')), [false, []]); // not a chain
});

test('crypto.x509.parse_certificate_request, parse_rsa_private_key, crypto.parse_private_keys', () => {
  const csr = ev('crypto.x509.parse_certificate_request(input)', fx('leaf.csr')) as Record<string, unknown>;
  assert.equal((csr['Subject'] as Record<string, unknown>)['CommonName'], 'leaf.example.com');
  assert.deepEqual(csr['DNSNames'], ['leaf.example.com', '*.leaf.example.com']);
  const jwk = ev('crypto.x509.parse_rsa_private_key(input)', fx('leaf-rsa.key')) as Record<string, unknown>;
  assert.equal(jwk['kty'], 'RSA');
  assert.equal(jwk['e'], 'AQAB');
  const keys = ev('crypto.parse_private_keys(input)', fx('leaf-rsa.key') + fx('root-ec.key')) as Record<string, unknown>[];
  assert.equal(keys.length, 2);
  assert.equal(keys[0]?.['E'], 65537);
  assert.equal((keys[0]?.['Primes'] as unknown[]).length, 2);
  assert.ok('D' in (keys[1] as object) && 'X' in (keys[1] as object));
  assert.deepEqual(ev('crypto.parse_private_keys("")'), []);
});

test('net.cidr_merge/expand/contains_matches', () => {
  assert.deepEqual(ev('net.cidr_merge(["192.0.128.0/24", "192.0.129.0/24", "10.0.0.1", "2001:db8::/33", "2001:db8:8000::/33"])'), ['10.0.0.1/32', '192.0.128.0/23', '2001:db8::/32']);
  assert.deepEqual(ev('net.cidr_expand("192.168.0.0/30")'), ['192.168.0.0', '192.168.0.1', '192.168.0.2', '192.168.0.3']);
  assert.deepEqual(ev('net.cidr_expand("2001:db8::/127")'), ['2001:db8::', '2001:db8::1']);
  assert.deepEqual(
    ev('net.cidr_contains_matches({"a": "10.0.0.0/8", "b": ["192.168.0.0/16", "x"]}, ["10.1.1.1", "192.168.3.0/24", "8.8.8.8"])'),
    [['a', 0], ['b', 1]],
  );
  assert.deepEqual(ev('net.cidr_contains_matches("1.0.0.0/8", {"1.2.3.4"})'), [['1.0.0.0/8', '1.2.3.4']]);
});

test('strings.render_template, regex.template_match, graph.*, rego.metadata.*, opa.runtime', () => {
  assert.equal(
    ev('strings.render_template("Hi {{.name}}! {{range $i, $v := .xs}}{{$i}}={{$v}} {{end}}{{if .ok}}yes{{else}}no{{end}} {{.m}} {{.missing}}", {"name": "Ann", "xs": ["a", "b"], "ok": false, "m": {"k": [1, 2]}})'),
    'Hi Ann! 0=a 1=b no map[k:[1 2]] <undefined>',
  );
  assert.equal(
    ev('strings.render_template(`{{if eq .kind "pod"}}{{len .xs}} {{index .xs 1}} {{index .m "k"}}{{end}}{{if and .a (not .b)}} ok{{end}}`, {"kind": "pod", "xs": [5, 6], "m": {"k": "v"}, "a": true, "b": false})'),
    '2 6 v ok',
  );
  assert.equal(ev('regex.template_match("urn:foo:{.*}", "urn:foo:bar:baz", "{", "}")'), true);
  assert.equal(ev('regex.template_match("urn:foo.com:{[a-z]+}", "urn:fooxcom:bar", "{", "}")'), false);
  const g = '{"a": ["b"], "b": ["c", "d"], "c": [], "d": ["a"], "e": ["a"]}';
  assert.deepEqual(ev(`graph.reachable(${g}, {"b"})`), ['a', 'b', 'c', 'd']);
  assert.deepEqual(ev(`graph.reachable_paths(${g}, {"a"})`), [['a', 'b', 'c'], ['a', 'b', 'd']]);
  // A neighbour missing from the graph ends the path before it; a start without edges is a path of one.
  assert.deepEqual(ev('graph.reachable_paths({"a": ["x", "b"], "b": []}, ["a"])'), [['a'], ['a', 'b']]);
  assert.deepEqual(ev('graph.reachable_paths({"a": []}, ["a", "zz"])'), [['a']]);
  assert.deepEqual(ev('rego.metadata.rule()'), {});
  assert.deepEqual(ev('rego.metadata.chain()'), [{ path: ['t', 'x'] }]);
  const rt = ev('opa.runtime()') as Record<string, unknown>;
  assert.equal(typeof rt['version'], 'string');
  // SECURITY: no environment unless the caller opts in (env holds DSNs; agent prints reach the host).
  assert.deepEqual(rt['env'], {});
  const shown = compile([{ path: 't.rego', source: 'package t\nx := opa.runtime().env\n' }], { runtimeEnv: { A: '1' } }).evaluate('data.t.x').value;
  assert.deepEqual(shown, { A: '1' });
});

test('malformed certificates, CSRs, keys and tokens are builtin errors (undefined; RGO_EVAL when strict)', () => {
  // A well-formed DER SEQUENCE that is not a certificate / CSR.
  const notCert = Buffer.from([0x30, 0x03, 0x02, 0x01, 0x05]).toString('base64');
  for (const expr of [
    'crypto.x509.parse_certificates(input)',
    'crypto.x509.parse_certificate_request(input)',
    'crypto.x509.parse_and_verify_certificates(input)',
    'crypto.x509.parse_rsa_private_key(input)',
    'io.jwt.verify_rs256(input, input)',
  ]) {
    assert.equal(ev(expr, notCert, false), undefined, expr);
    assert.throws(() => ev(expr, notCert, true), (e: unknown) => (e as { code?: string }).code === 'RGO_EVAL', expr);
  }
});

test('crypto.x509.parse_and_verify_certificates_with_options: DNSName, KeyUsages, CurrentTime as Go x509.Verify', () => {
  const chain = fx('root.pem') + fx('leaf.pem');
  const v = (opts: string) => (ev(`crypto.x509.parse_and_verify_certificates_with_options(input, ${opts})`, chain) as unknown[])[0];
  assert.equal(v('{"DNSName": "a.leaf.example.com", "KeyUsages": ["KeyUsageServerAuth"]}'), true);
  assert.equal(v('{"DNSName": "leaf.example.com"}'), true); // no KeyUsages: server auth, as Go
  assert.equal(v('{"DNSName": "10.0.0.1", "KeyUsages": ["KeyUsageClientAuth"]}'), true);
  assert.equal(v('{"DNSName": "a.b.leaf.example.com"}'), false); // a wildcard covers one label
  assert.equal(v('{"DNSName": "example.org"}'), false);
  assert.equal(v('{"KeyUsages": ["KeyUsageCodeSigning"]}'), false);
  assert.equal(v('{"KeyUsages": ["KeyUsageAny"], "CurrentTime": 7258118400000000000}'), false); // year 2200: expired
  assert.equal(v('{"KeyUsages": ["KeyUsageAny"], "CurrentTime": 0}'), false); // 1970: not yet valid
  assert.throws(() => v('{"Bogus": 1}'), /invalid option/);
  assert.throws(() => v('{"KeyUsages": ["KeyUsageWhatever"]}'), /unknown key usage/);
});
