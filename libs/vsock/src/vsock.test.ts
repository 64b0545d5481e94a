import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, openSync, readFileSync, writeSync, closeSync, constants as fsc } from 'node:fs';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';
import { KccError } from '@kata-cc/errors';
import { connectVsock, listenVsock, loadNativeAddon, vsockError, FdDuplex, VSOCK_ERROR_CODES, type VsockServer } from './index.js';

const servers: VsockServer[] = [];
after(() => { for (const s of servers) s.close(); });
const port = (n: number): number => 42000 + ((process.pid * 7 + n) % 20000);

test('the addon is built by the npm install script and loads', () => {
  const a = loadNativeAddon();
  for (const f of ['listen', 'accept', 'cancel', 'connect', 'close', 'openpty', 'setWinsize'] as const) assert.equal(typeof a[f], 'function', f);
});

// Without vhost-vsock the kernel fails the connect with ENODEV, or, when this host is itself a VM
// with a guest-to-host transport, routes it there and times out (2 s): both name the device.
test('connectVsock to a guest CID without /dev/vhost-vsock fails with a VSOCK_* code naming /dev/vhost-vsock', async (t) => {
  if (existsSync('/dev/vhost-vsock')) t.diagnostic('this host has /dev/vhost-vsock: only checking for a VSOCK_* code');
  const err = await connectVsock(4242, 1024).then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof KccError);
  if (existsSync('/dev/vhost-vsock')) assert.match(err.code, /^VSOCK_/);
  else {
    assert.ok(err.code === 'VSOCK_NO_TRANSPORT' || err.code === 'VSOCK_TIMEOUT', err.code);
    assert.match(err.message, /CID 4242 port 1024.*\/dev\/vhost-vsock/);
  }
});

test('listenVsock binds; a second bind of the port is VSOCK_ADDRESS_IN_USE; close ends the pending accept', async () => {
  const s = listenVsock(port(1));
  servers.push(s);
  assert.equal(s.port, port(1));
  assert.throws(() => listenVsock(port(1)), (e: unknown) => e instanceof KccError && e.code === 'VSOCK_ADDRESS_IN_USE');
  s.close();
  // The port is free again once the accept has returned (the listener is closed there).
  for (let i = 0; i < 50; i++) {
    try { const s2 = listenVsock(port(1)); servers.push(s2); s2.close(); return; } catch { await new Promise((r) => setTimeout(r, 20)); }
  }
  assert.fail('the port was not released by close()');
});

test('bad CID or port is VSOCK_BAD_ADDRESS', async () => {
  await assert.rejects(connectVsock(-2, 1), (e: unknown) => e instanceof KccError && e.code === 'VSOCK_BAD_ADDRESS');
  assert.throws(() => listenVsock(2 ** 32), (e: unknown) => e instanceof KccError && e.code === 'VSOCK_BAD_ADDRESS');
});

test('errno mapping: ENODEV, EAFNOSUPPORT, ECONNREFUSED, ETIMEDOUT, other', () => {
  const E = constants.errno;
  const code = (errno: number): string => vsockError(Object.assign(new Error('connect(vsock): x'), { errno }), 'dial').code;
  assert.equal(code(E.ENODEV), 'VSOCK_NO_TRANSPORT');
  assert.equal(code(E.EAFNOSUPPORT), 'VSOCK_UNSUPPORTED');
  assert.equal(code(E.ECONNREFUSED), 'VSOCK_CONNECTION_REFUSED');
  assert.equal(code(E.ETIMEDOUT), 'VSOCK_TIMEOUT');
  assert.equal(code(E.EPERM), 'VSOCK_FAILED');
});

test('FdDuplex reads and writes a raw fd (pty pair) and closes it on destroy', async () => {
  const a = loadNativeAddon();
  const pty = a.openpty();
  const slave = openSync(pty.slave, fsc.O_RDWR | fsc.O_NOCTTY);
  let closed = false;
  const d = new FdDuplex(pty.master, () => { closed = true; a.close(pty.master); });
  try {
    const got = new Promise<string>((resolve) => d.once('data', (b: Buffer) => resolve(b.toString())));
    writeSync(slave, 'ping\n');
    assert.equal(await got, 'ping\r\n');
  } finally {
    d.destroy();
    closeSync(slave);
  }
  assert.equal(closed, true);
});

test('README documents every error code', () => {
  const readme = readFileSync(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8');
  for (const c of VSOCK_ERROR_CODES) assert.match(readme, new RegExp(`\\| \`${c}\` \\|`), c);
});
