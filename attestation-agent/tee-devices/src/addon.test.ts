import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { constants } from 'node:os';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fixturePath, requireTool, tempDir } from '@kata-cc/testing';
import { TEE_DEVICES_ERROR_CODES, loadTeeDevices, type TeeDevicesAddon } from './index.js';

// The REAL addon and REAL ioctls into this machine's kernel; no SEV-SNP or s390x hardware here,
// so the kernel answers with the errors a guest without the device would see.
test('snpGetReport/snpGetExtReport on /dev/null: a real ioctl into the kernel fails with ENOTTY', async () => {
  const a = loadTeeDevices();
  const r = await a.snpGetReport('/dev/null', new Uint8Array(96), new Uint8Array(4000));
  assert.deepEqual(r, { stage: 'ioctl', errno: constants.errno.ENOTTY, fwError: 0, vmmError: 0 });
  const x = await a.snpGetExtReport('/dev/null', new Uint8Array(96), new Uint8Array(4000), new Uint8Array(4096));
  assert.deepEqual(x, { stage: 'ioctl', errno: constants.errno.ENOTTY, fwError: 0, vmmError: 0, certsLen: 4096 });
  const none = await a.snpGetExtReport('/dev/null', new Uint8Array(96), new Uint8Array(4000), null);
  assert.equal(none.certsLen, 0);
});

test('a missing device fails at open with ENOENT; bad buffers and the wrong architecture throw TEEDEV_ codes', async () => {
  const a = loadTeeDevices();
  const r = await a.snpGetReport('/nonexistent/sev-guest', new Uint8Array(96), new Uint8Array(4000));
  assert.deepEqual(r, { stage: 'open', errno: constants.errno.ENOENT, fwError: 0, vmmError: 0 });
  await assert.rejects(a.snpGetReport('/dev/null', new Uint8Array(95), new Uint8Array(4000)), { code: 'TEEDEV_BAD_ARGUMENT' });
  await assert.rejects(a.snpGetReport('/dev/null', new Uint8Array(96), new Uint8Array(3999)), { code: 'TEEDEV_BAD_ARGUMENT' });
  const uv = a.uvAttest('/dev/null', new Uint8Array(16), new Uint8Array(64), new Uint8Array(0), new Uint8Array(64), new Uint8Array(16));
  if (process.arch === 's390x') assert.equal((await uv).errno, constants.errno.ENOTTY);
  else await assert.rejects(uv, { code: 'TEEDEV_UNSUPPORTED_ARCH', message: /only on s390x/ });
});

test('the s390x branch, compiled here with -D__s390x__, marshals uvio_attest and reaches the kernel (/dev/null: ENOTTY)', async (t) => {
  requireTool('gcc');
  const include = [path.resolve(path.dirname(process.execPath), '../include/node'), '/usr/include/node'].find((d) => existsSync(path.join(d, 'node_api.h')));
  assert.ok(include, 'node_api.h (Node headers) not found');
  const tmp = await tempDir('kcc-teedev-s390-');
  t.after(tmp.cleanup);
  const out = path.join(tmp.dir, 'tee_devices_s390_branch.node');
  const src = path.join(fixturePath(import.meta.url, '.'), '..', 'native/tee-devices.c');
  execFileSync('gcc', ['-O2', '-Wall', '-Wextra', '-Werror', '-D__s390x__', '-fPIC', '-shared', `-I${include}`, src, '-o', out]);
  const a = createRequire(import.meta.url)(out) as TeeDevicesAddon;
  const r = await a.uvAttest('/dev/null', new Uint8Array(32), new Uint8Array(64), new Uint8Array(0), new Uint8Array(64), new Uint8Array(16));
  assert.deepEqual(r, { stage: 'ioctl', errno: constants.errno.ENOTTY, uvRc: 0, uvRrc: 0, addDataLen: 0 });
  assert.throws(() => a.uvAttest('/dev/null', new Uint8Array(32), new Uint8Array(64), new Uint8Array(0), new Uint8Array(257), new Uint8Array(16)), { code: 'TEEDEV_BAD_ARGUMENT' });
});

test('README.md documents exactly the TEEDEV_ error codes', () => {
  const readme = readFileSync(path.join(fixturePath(import.meta.url, '.'), '..', 'README.md'), 'utf8');
  const documented = [...readme.matchAll(/^\| `(TEEDEV_[A-Z0-9_]+)` \|/gm)].map((m) => m[1]);
  assert.deepEqual(documented.sort(), [...TEE_DEVICES_ERROR_CODES].sort());
});
