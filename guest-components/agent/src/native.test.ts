import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { openSync, closeSync, constants } from 'node:fs';
import { isatty } from 'node:tty';
import { loadNativeAddon, type NativeAddon } from '@kata-cc/vsock';

// The addon lives in @kata-cc/vsock (built by its npm install script; AF_VSOCK tests there).
let addon: NativeAddon;

before(() => {
  addon = loadNativeAddon();
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
