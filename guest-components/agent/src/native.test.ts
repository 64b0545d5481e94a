import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, openSync, closeSync, constants } from 'node:fs';
import path from 'node:path';
import { isatty } from 'node:tty';
import { fileURLToPath } from 'node:url';
import { loadVsockAddon, type VsockAddon } from './transport/vsock.js';

let addon: VsockAddon;

before(() => {
  // The image builder compiles the addon; a fresh checkout builds it here (node-gyp from npm, headers from nodedir).
  const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../native');
  if (!existsSync(path.join(dir, 'build/Release/vsock.node'))) {
    const gyp = ['/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js', path.join(path.dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js')].find((p) => existsSync(p));
    assert.ok(gyp, 'node-gyp (bundled with npm) is needed to build the native addon');
    execFileSync(process.execPath, [gyp, 'rebuild', ...(existsSync('/usr/include/node/node_api.h') ? ['--nodedir=/usr'] : [])], { cwd: dir, stdio: 'ignore' });
  }
  addon = loadVsockAddon();
});

test('native addon: openpty gives a terminal pair, setWinsize sizes it', () => {
  const pty = addon.openpty();
  assert.match(pty.slave, /^\/dev\/pts\/\d+$/);
  const slave = openSync(pty.slave, constants.O_RDWR | constants.O_NOCTTY);
  try {
    assert.equal(isatty(slave), true);
    addon.setWinsize(pty.master, 33, 120);
    const size = execFileSync('stty', ['size'], { stdio: [slave, 'pipe', 'ignore'] }).toString().trim();
    assert.equal(size, '33 120');
  } finally {
    closeSync(slave);
    addon.close(pty.master);
  }
  assert.throws(() => addon.setWinsize(-1, 1, 1), /TIOCSWINSZ/);
});

test('native addon: AF_VSOCK listen binds a vsock socket; bad arguments are type errors', () => {
  const fd = addon.listen(0xffffffff, 40000 + (process.pid % 20000));
  assert.ok(fd > 2);
  addon.close(fd);
  assert.throws(() => (addon.listen as (...a: unknown[]) => number)('x'), TypeError);
});
