import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compile } from '../index.js';

/** Evaluates `x := <expr>` in a fresh v1 module. */
function ev(expr: string): unknown {
  return compile([{ path: 't.rego', source: `package t\nimport rego.v1\nx := ${expr}\n` }], { strictBuiltinErrors: true }).evaluate('data.t.x').value;
}

test('net.cidr_* on IPv4 and IPv6, io.jwt.decode without verification', () => {
  assert.equal(ev('net.cidr_contains("10.0.0.0/8", "10.1.2.3")'), true);
  assert.equal(ev('net.cidr_contains("10.0.0.0/8", "11.0.0.1")'), false);
  assert.equal(ev('net.cidr_contains("2001:db8::/32", "2001:db8:1::/48")'), true);
  assert.equal(ev('net.cidr_contains("::ffff:0:0/96", "::ffff:1.2.3.4")'), true);
  assert.equal(ev('net.cidr_intersects("192.168.0.0/16", "192.168.1.0/24")'), true);
  assert.equal(ev('net.cidr_is_valid("1.2.3.0/33")'), false);
  assert.deepEqual(ev('io.jwt.decode("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.AQID")'), [{ alg: 'HS256' }, { sub: 'x' }, '010203']);
});

test('regex (RE2 flags), glob delimiters, sprintf, hashes and encodings', () => {
  assert.equal(ev('regex.match(`(?i)^abc$`, "ABC")'), true);
  assert.deepEqual(ev('regex.find_all_string_submatch_n(`(\\w+)=(\\d+)`, "a=1 b=2", -1)'), [['a=1', 'a', '1'], ['b=2', 'b', '2']]);
  assert.equal(ev('glob.match("*.example.com", ["."], "a.b.example.com")'), false);
  assert.equal(ev('glob.match("**.example.com", ["."], "a.b.example.com")'), true);
  assert.equal(ev('sprintf("%s=%d (%v)", ["n", 42, {"k": [1]}])'), 'n=42 ({"k": [1]})');
  assert.equal(ev('crypto.sha256("abc")'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  assert.equal(ev('base64url.encode_no_pad("hi?")'), 'aGk_');
  assert.deepEqual(ev('json.unmarshal(`{"a":[1,{"b":null}]}`)'), { a: [1, { b: null }] });
  assert.deepEqual(ev('yaml.unmarshal("a: [1, 2]")'), { a: [1, 2] });
  assert.equal(ev('json.marshal({"b": {1, 2}, "a": "x"})'), '{"a":"x","b":[1,2]}');
});

test('time, semver and units use Go/OPA conventions', () => {
  assert.equal(ev('time.parse_rfc3339_ns("2023-12-24T18:58:45.5Z")'), 1703444325500000000);
  assert.deepEqual(ev('time.date(time.parse_rfc3339_ns("2024-02-29T23:00:00Z"))'), [2024, 2, 29]);
  assert.equal(ev('time.format([0, "UTC", "2006-01-02 15:04"])'), '1970-01-01 00:00');
  assert.equal(ev('time.parse_duration_ns("1h30m")'), 5400e9);
  assert.equal(ev('semver.compare("1.2.3-rc.1", "1.2.3")'), -1);
  assert.equal(ev('units.parse_bytes("1.5Ki")'), 1536);
  assert.equal(ev('units.parse("250m")'), 0.25);
});
