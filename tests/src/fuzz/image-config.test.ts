/**
 * Fuzz: the image-rs inputs that arrive as KBS resources or pod-spec strings: containers
 * policy.json (seeded from guest-components' real examples), auth.json, registries.d YAML,
 * image references and private keys. Each parses or fails with an IMG_ KccError.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { sharedDir } from '@kata-cc/testing';
import { loadPrivateKey, mergeRegistriesD, parseAuthFile, parsePolicy, parseReference } from '@kata-cc/image-rs';
import { expectKcc, fuzz, mutate, mutationArb, test } from './budget.js';
import { jsonMutant, type Json } from './json-mutant.js';

async function img(what: string, f: () => unknown): Promise<string> {
  try {
    await f();
    return 'parsed';
  } catch (e) {
    return expectKcc(e, 'IMG_', what).code;
  }
}

test('fuzz: containers policy.json (real examples, mutated)', async () => {
  const real = JSON.parse(readFileSync(sharedDir('vectors', 'guest-components/image-rs/test_data/signature/policy.json'), 'utf8')) as Json;
  assert.ok(parsePolicy(JSON.stringify(real)));
  await fuzz('image-rs/parsePolicy', [jsonMutant(real)], (b) => img('parsePolicy', () => parsePolicy(b)), { runs: 500, seconds: 2 });
});

test('fuzz: auth.json and registries.d YAML', async () => {
  const auth = { auths: { 'quay.io': { auth: Buffer.from('u:p').toString('base64') }, 'docker.io': { username: 'u', password: 'p' } } } as Json;
  await fuzz('image-rs/parseAuthFile', [jsonMutant(auth)], (b) => img('parseAuthFile', () => parseAuthFile(b)), { runs: 400, seconds: 1.5 });
  const yaml = 'default-docker:\n  sigstore: https://sigs.example/\ndocker:\n  quay.io/x:\n    sigstore: file:///var/lib/sigs\n    lookaside: https://l.example\n';
  const seed = new Uint8Array(Buffer.from(yaml));
  const text = fc.oneof(mutationArb(seed.length).map((ms) => Buffer.from(mutate(seed, ms)).toString('utf8')), fc.string({ maxLength: 200 }),
    fc.constantFrom('a: &x [*x]', `${'- '.repeat(50)}x`, `${'['.repeat(50)}`, `${'- '.repeat(3000)}x`, `${'['.repeat(5000)}`, `${'{'.repeat(5000)}`, 'docker: !!js/function "x"', '? [a]\n: b', 'default-docker: null', 'docker: [1,2]'));
  await fuzz('image-rs/mergeRegistriesD', [text], (t) => img('mergeRegistriesD', () => mergeRegistriesD({ scopes: {} }, t)), { runs: 400, seconds: 2 });
});

test('fuzz: image references and private keys', async () => {
  const seedRef = 'quay.io/org/img:1.0@sha256:' + 'a'.repeat(64);
  const refs = fc.oneof(fc.string({ maxLength: 80 }), mutationArb(seedRef.length).map((ms) => Buffer.from(mutate(new Uint8Array(Buffer.from(seedRef)), ms)).toString('latin1')), fc.constantFrom('a'.repeat(10_000), `${'a/'.repeat(2000)}b`, ':', '@', 'localhost:99999/x', 'UPPER/case'));
  await fuzz('image-rs/parseReference', [refs], (r) => img('parseReference', () => parseReference(r)), { runs: 800, seconds: 1.5 });
  const pem = new Uint8Array(Buffer.from(generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'pem', type: 'pkcs8' })));
  const der = new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'der', type: 'pkcs8' }));
  await fuzz('image-rs/loadPrivateKey', [fc.oneof(mutationArb(pem.length).map((ms) => mutate(pem, ms)), mutationArb(der.length).map((ms) => mutate(der, ms)), fc.uint8Array({ maxLength: 300 }))], (k) => img('loadPrivateKey', () => loadPrivateKey(k)), { runs: 300, seconds: 2 });
});

// Found by this suite: deeply nested YAML made V8 abort the process ("FATAL ERROR: RegExpCompiler
// Allocation failed - process out of memory", SIGABRT) when the yaml library compiles one of its
// regexes deep in its recursive descent. Sequence-dependent: 5 000 '[' then 5 000 '{' crashed, each
// alone did not. Run in a child, since a regression kills the process rather than throwing.
test('deeply nested registries.d YAML is refused without aborting the process (run in a child)', () => {
  const script = `import { mergeRegistriesD } from '@kata-cc/image-rs';
for (const t of ['${'['.repeat(5000)}', '${'{'.repeat(5000)}', '${'- '.repeat(3000)}x']) {
  try { await mergeRegistriesD({ scopes: {} }, t); } catch (e) { if (!String(e.code).startsWith('IMG_')) throw e; }
}`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: new URL('../..', import.meta.url).pathname, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `child ended with status ${r.status} signal ${r.signal}: ${r.stderr.split('\n').find((l) => l.includes('FATAL')) ?? r.stderr.slice(0, 300)}`);
});
