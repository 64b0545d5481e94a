import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasCode, isKccError } from '@kata-cc/errors';
import { compile } from './index.js';

const m = (source: string, path = 'policy.rego') => [{ path, source }];

function throwsCode(fn: () => unknown, code: string, message?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isKccError(e), `not a KccError: ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (message) assert.match(e.message, message);
    return true;
  });
}

test('KBS resource policy (trustee default shape): allow, false by default, undefined for a missing rule', () => {
  const p = compile(
    m(`package policy
import rego.v1
default allow := false
allow if {
  input["submods"]["cpu0"]["ear.veraison.annotated-evidence"]["sample"]
  data["resource-path"] in ["default/key/1", "default/key/2"]
}`),
  );
  const input = { submods: { cpu0: { 'ear.veraison.annotated-evidence': { sample: { svn: '1' } } } } };
  assert.deepEqual(p.evaluate('data.policy.allow', input, { 'resource-path': 'default/key/1' }), { defined: true, value: true, results: [true], prints: [] });
  assert.equal(p.evaluate('data.policy.allow', input, { 'resource-path': 'other' }).value, false);
  assert.equal(p.evaluate('data.policy.allow', {}, {}).value, false);
  assert.deepEqual(p.evaluate('data.policy.nothing', input), { defined: false, results: [], prints: [] });
  assert.deepEqual(p.packages, ['policy']);
});

test('v0 modules: genpolicy style (future.keywords, bodies without if, p[x] sets, else, every)', () => {
  const p = compile(
    m(`package agent_policy
import future.keywords.in
import future.keywords.every
default CreateContainerRequest := false
CreateContainerRequest {
  every c in input.containers { allowed_image(c) }
}
allowed_image(c) { c.image in data.images }
names[n] { some c in input.containers; n := c.name }
kind(x) = "small" { x < 10 } else = "big" { true }`),
    { regoVersion: 'v0' },
  );
  const input = { containers: [{ name: 'b', image: 'pause' }, { name: 'a', image: 'nginx' }] };
  assert.equal(p.evaluate('data.agent_policy.CreateContainerRequest', input, { images: ['pause', 'nginx'] }).value, true);
  assert.equal(p.evaluate('data.agent_policy.CreateContainerRequest', input, { images: ['pause'] }).value, false);
  assert.deepEqual(p.evaluate('data.agent_policy.names', input).value, ['a', 'b']);
  assert.deepEqual(p.evaluate('x := data.agent_policy.kind(3); y := data.agent_policy.kind(30)').value, { x: 'small', y: 'big' });
});

test('v1 is the default: a v0 body without `if` is a parse error naming file, line and column', () => {
  throwsCode(() => compile(m('package p\nallow {\n  true\n}\n', 'kbs/resource.rego')), 'RGO_PARSE', /^kbs\/resource\.rego:2:1: `if` keyword is required before rule body/);
  throwsCode(() => compile(m('package p\nx := [1, 2\n')), 'RGO_PARSE', /policy\.rego:3:1: expecting/);
  throwsCode(() => compile(m('package p\nx := "abc\n')), 'RGO_PARSE', /policy\.rego:2:6: unterminated string/);
});

test('compile errors: unknown builtin is named; wrong arity; conflicting rule kinds', () => {
  throwsCode(() => compile(m('package p\nx := crypto.x509.parse_foo("a")\n')), 'RGO_COMPILE', /could not find function crypto\.x509\.parse_foo/);
  throwsCode(() => compile(m('package p\nx := count([1], [2])\n')), 'RGO_COMPILE', /`count` expects 1 argument/);
  throwsCode(() => compile(m('package p\nimport rego.v1\nx := 1\nx contains 2\n')), 'RGO_COMPILE', /different kind/);
});

test('undefined vs false, and complete-rule conflicts are RGO_CONFLICT errors', () => {
  const p = compile(m('package p\nimport rego.v1\nf := false\nu if false\nc := 1 if true\nc := 2 if true\no[k] := v if { some k, v in {"a": 1} }\no[k] := 2 if k := "a"\n'));
  assert.deepEqual(p.evaluate('data.p.f'), { defined: true, value: false, results: [false], prints: [] });
  assert.equal(p.evaluate('data.p.u').defined, false);
  throwsCode(() => p.evaluate('data.p.c'), 'RGO_CONFLICT', /rules should not produce multiple outputs/);
  throwsCode(() => p.evaluate('data.p.o'), 'RGO_CONFLICT');
});

test('with replaces input, data and functions for one expression', () => {
  const p = compile(
    m(`package p
import rego.v1
allow if input.user == data.admins[_]
double(x) := 2 * x
r := double(2)
t1 if allow with input.user as "bob" with data.admins as ["bob"]
t2 := y if { y := r with double as triple }
triple(x) := 3 * x`),
  );
  assert.equal(p.evaluate('data.p.t1').value, true);
  assert.equal(p.evaluate('data.p.t2').value, 6);
  assert.equal(p.evaluate('data.p.allow', { user: 'bob' }, { admins: [] }).defined, false);
});

test('prints carry path:line, and undefined arguments print <undefined>', () => {
  const p = compile(m('package p\nimport rego.v1\nx if {\n  print("user", input.user, {"a": [1, "s"]}, input.nope)\n}\n', 'a/b.rego'));
  assert.deepEqual(p.evaluate('data.p.x', { user: 'u' }).prints, ['a/b.rego:4: user u {"a": [1, "s"]} <undefined>']);
  const quiet = compile(m('package p\nimport rego.v1\nx if {\n  print("hi")\n}\n'), { prints: false });
  assert.deepEqual(quiet.evaluate('data.p.x'), { defined: true, value: true, results: [true], prints: [] });
});

test('a runaway policy ends with RGO_LIMIT (steps and time), never hangs', () => {
  const src = 'package p\nimport rego.v1\nx := count([1 | some a in numbers.range(1, 2000); some b in numbers.range(1, 2000)])\n';
  throwsCode(() => compile(m(src), { maxSteps: 10_000 }).evaluate('data.p.x'), 'RGO_LIMIT', /step limit/);
  throwsCode(() => compile(m(src), { timeoutMs: 20, maxSteps: 1e12 }).evaluate('data.p.x'), 'RGO_LIMIT', /time limit/);
  const deep = compile(m('package p\nimport rego.v1\nf(n) := f(n + 1)\nx := f(0)\n'));
  assert.throws(() => deep.evaluate('data.p.x'), (e: unknown) => hasCode(e, 'RGO_LIMIT') || hasCode(e, 'RGO_EVAL'));
});

test('input that is not JSON (a function, NaN) is RGO_INPUT; strict mode turns builtin errors into RGO_EVAL', () => {
  const p = compile(m('package p\nx := input.a + 1\n'));
  throwsCode(() => p.evaluate('data.p.x', { a: () => 1 }), 'RGO_INPUT');
  throwsCode(() => p.evaluate('data.p.x', { a: Number.NaN }), 'RGO_INPUT');
  assert.equal(p.evaluate('data.p.x', { a: 'one' }).defined, false);
  throwsCode(() => compile(m('package p\nx := input.a + 1\n'), { strictBuiltinErrors: true }).evaluate('data.p.x', { a: 'one' }), 'RGO_EVAL', /`add` expects numeric argument/);
});

test('a compiled policy is reusable: evaluations do not leak state into each other', () => {
  const p = compile(m('package p\nimport rego.v1\nseen contains x if some x in input.items\n'));
  assert.deepEqual(p.evaluate('data.p.seen', { items: [2, 1] }).value, [1, 2]);
  assert.deepEqual(p.evaluate('data.p.seen', { items: ['z'] }).value, ['z']);
});

test('OPA semantics: package documents, iteration over data, reordering of unsafe bodies, default functions', () => {
  const p = compile([
    { path: 'a.rego', source: 'package lib\nimport rego.v1\nlimits := {"cpu": 2, "mem": 4}\ndefault f(_) := "none"\nf(x) := "small" if x < 3\n' },
    {
      path: 'b.rego',
      source: `package app
import rego.v1
import data.lib
big contains k if { some k; lib.limits[k] > 3 }
total := s if { s := sum([v | some v in lib.limits]) }
late := y + 1 if { y = x * 2; x = 5 }
kinds := [lib.f(1), lib.f(9)]`,
    },
  ]);
  assert.deepEqual(p.evaluate('data.app').value, { big: ['mem'], total: 6, late: 11, kinds: ['small', 'none'] });
  assert.deepEqual(p.evaluate('data.lib.limits').value, { cpu: 2, mem: 4 });
  assert.deepEqual(p.evaluate('[k | data.lib.limits[k]]').value, ['cpu', 'mem']);
  assert.deepEqual(p.evaluate('x := data.lib.limits[k]').results, [{ k: 'cpu', x: 2 }, { k: 'mem', x: 4 }]);
});

test('comprehensions with an operator head (OPA) vs regorus array-of-union forms', () => {
  const ev = (s: string) => compile(m(`package a\nimport rego.v1\n${s}\n`)).evaluate('data.a.x').value;
  assert.deepEqual(ev('x := [y + 1 | some y in [1, 2]]'), [2, 3]);
  assert.deepEqual(ev('x := {y * 3 + 1 | y := [1, 2][_]}'), [4, 7]);
  // No shared variable: an array holding the set union, as regorus reads it.
  assert.deepEqual(ev('q := {2}\nx := [q & {1} | {true}]'), [[true]]);
});
