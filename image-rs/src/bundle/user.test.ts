import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { hasCode } from '@kata-cc/errors';
import { tempDir } from '@kata-cc/testing';
import { resolveUser } from './user.js';
import { runtimeSpec } from './spec.js';

const tmp = await tempDir('img-user-');
after(() => tmp.cleanup());

function rootfs(name: string, passwd: string, group: string): string {
  const r = path.join(tmp.dir, name);
  mkdirSync(path.join(r, 'etc'), { recursive: true });
  writeFileSync(path.join(r, 'etc/passwd'), passwd);
  writeFileSync(path.join(r, 'etc/group'), group);
  return r;
}

test('resolveUser() resolves names, numbers, groups and supplementary groups from the image', async () => {
  const r = rootfs('a', 'root:x:0:0:root:/root:/bin/sh\nweb:x:33:33::/var/www:/bin/false\n', 'root:x:0:\nwww:x:33:\nlogs:x:4:web,other\nstaff:x:50:\n');
  assert.deepEqual(await resolveUser(r, ''), { uid: 0, gid: 0, additionalGids: [], home: '/root' });
  assert.deepEqual(await resolveUser(r, 'web'), { uid: 33, gid: 33, additionalGids: [4], home: '/var/www' });
  assert.deepEqual(await resolveUser(r, 'web:staff'), { uid: 33, gid: 50, additionalGids: [], home: '/var/www' });
  assert.deepEqual(await resolveUser(r, '1234:5678'), { uid: 1234, gid: 5678, additionalGids: [] });
  await assert.rejects(resolveUser(r, 'nobody-here'), (e) => hasCode(e, 'IMG_CONFIG_INVALID'));
  await assert.rejects(resolveUser(r, 'web:nogroup'), (e) => hasCode(e, 'IMG_CONFIG_INVALID'));
});

test('resolveUser() never reads /etc/passwd through a symlink out of the rootfs', async () => {
  const outside = rootfs('host', 'intruder:x:4242:4242::/:/bin/sh\n', '');
  const r = path.join(tmp.dir, 'b');
  mkdirSync(path.join(r, 'etc'), { recursive: true });
  symlinkSync(path.join(outside, 'etc/passwd'), path.join(r, 'etc/passwd'));
  await assert.rejects(resolveUser(r, 'intruder'), (e) => hasCode(e, 'IMG_CONFIG_INVALID'));
  const r2 = path.join(tmp.dir, 'c');
  mkdirSync(r2);
  symlinkSync('../host/etc', path.join(r2, 'etc'));
  await assert.rejects(resolveUser(r2, 'intruder'), (e) => hasCode(e, 'IMG_CONFIG_INVALID'));
});

test('runtimeSpec() builds process args, env and cwd from the image config', () => {
  const spec = runtimeSpec({ config: { Entrypoint: ['/entry'], Cmd: ['a', 'b'], Env: ['X=1'], WorkingDir: '/w' }, rootfs: { type: 'layers', diff_ids: [] } }, { uid: 1, gid: 2, additionalGids: [3], home: '/h' }, {}) as {
    process: { args: string[]; env: string[]; cwd: string; user: unknown }; root: unknown;
  };
  assert.deepEqual(spec.process.args, ['/entry', 'a', 'b']);
  assert.deepEqual(spec.process.env, ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'X=1', 'HOME=/h']);
  assert.equal(spec.process.cwd, '/w');
  assert.deepEqual(spec.process.user, { uid: 1, gid: 2, additionalGids: [3] });
  assert.deepEqual(spec.root, { path: 'rootfs', readonly: false });
});
