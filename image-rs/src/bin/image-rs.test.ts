import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildTar, pushImage, repoRoot, startRegistry, tempDir, type TestRegistry } from '@kata-cc/testing';

const tmp = await tempDir('img-cli-');
let reg: TestRegistry;
const bin = path.join(repoRoot(), 'image-rs', 'bin', 'image-rs.js');
const run = (...args: string[]): ReturnType<typeof spawnSync> => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, KATA_CC_LOG_LEVEL: 'warn' } });

before(async () => {
  reg = await startRegistry({ mode: 'tls' });
  await pushImage(reg, 'cli/app', 'v1', {
    config: { Entrypoint: ['/bin/app'], Cmd: ['--serve'], Env: ['MODE=prod'], WorkingDir: '/srv', User: 'svc:staff' },
    layers: [{ tar: buildTar([
      { path: 'etc/passwd', data: 'root:x:0:0::/root:/bin/sh\nsvc:x:101:101::/home/svc:/bin/sh\n' },
      { path: 'etc/group', data: 'root:x:0:\nstaff:x:50:svc\n' },
      { path: 'srv/index.html', data: 'hi' },
    ]) }],
  });
});
after(async () => {
  await reg?.stop();
  await tmp.cleanup();
});

test('image-rs --help documents pull', () => {
  const r = run('pull', '--help');
  assert.equal(r.status, 0);
  for (const flag of ['--dest', '--decryption-key', '--keyprovider', '--policy', '--auth', '--insecure-registry', '--platform', '--store', '--json']) {
    assert.ok(String(r.stdout).includes(flag), flag);
  }
});

test('image-rs pull writes a bundle and a JSON summary (TLS, auth.json, store)', () => {
  const auth = path.join(tmp.dir, 'auth.json');
  writeFileSync(auth, JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from('tester:testpass').toString('base64') } } }));
  const dest = path.join(tmp.dir, 'bundle');
  const r = run('pull', `${reg.host}/cli/app:v1`, '--dest', dest, '--auth', auth, '--ca', reg.caFile ?? '', '--store', path.join(tmp.dir, 'store'), '--json');
  assert.equal(r.status, 0, String(r.stderr));
  const summary = JSON.parse(String(r.stdout)) as { manifestDigest: string; layers: unknown[]; timings: { totalMs: number } };
  assert.match(summary.manifestDigest, /^sha256:[0-9a-f]{64}$/);
  assert.equal(summary.layers.length, 1);
  const spec = JSON.parse(readFileSync(path.join(dest, 'config.json'), 'utf8')) as { process: { args: string[]; env: string[]; cwd: string; user: unknown } };
  assert.deepEqual(spec.process.args, ['/bin/app', '--serve']);
  assert.ok(spec.process.env.includes('MODE=prod'));
  assert.equal(spec.process.cwd, '/srv');
  assert.deepEqual(spec.process.user, { uid: 101, gid: 50 });
  assert.equal(readFileSync(path.join(dest, 'rootfs/srv/index.html'), 'utf8'), 'hi');
});

test('image-rs pull exits non-zero with the error code on failure', () => {
  const r = run('pull', `${reg.host}/cli/app:v1`, '--dest', path.join(tmp.dir, 'nope'), '--ca', reg.caFile ?? '');
  assert.equal(r.status, 1);
  assert.match(String(r.stderr), /\[IMG_REGISTRY_UNAUTHORIZED\]/);
  const bad = run('pull', 'Not A Ref', '--dest', path.join(tmp.dir, 'x'));
  assert.equal(bad.status, 2);
  assert.match(String(bad.stderr), /IMG_REFERENCE_INVALID/);
});
