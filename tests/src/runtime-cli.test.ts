/**
 * The `kata-cc` command as a user runs it: --help everywhere, `check` on this host, `run` of a
 * registry image in a real guest (QEMU profile none, embedded KBS process), bad input.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { busyboxImage, pushImage, repoRoot, startRegistry, type TestRegistry } from '@kata-cc/testing';

const CLI = path.join(repoRoot(), 'runtime/cli/bin/kata-cc.js');
let reg: TestRegistry;

function kataCc(args: string[], timeoutMs = 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const t = setTimeout(() => { child.kill('SIGINT'); reject(new Error(`kata-cc ${args.join(' ')} timed out; stderr:\n${stderr}`)); }, timeoutMs);
    child.on('exit', (code) => { clearTimeout(t); resolve({ code: code ?? -1, stdout, stderr }); });
  });
}

before(async () => {
  reg = await startRegistry();
  await pushImage(reg, 'kcc/bb', 'latest', await busyboxImage());
});
after(async () => { await reg?.stop(); });

test('--help on every command', async () => {
  for (const args of [['--help'], ['check', '--help'], ['run', '--help']]) {
    const r = await kataCc(args);
    assert.equal(r.code, 0, args.join(' '));
    assert.match(r.stdout, /Usage: kata-cc/);
  }
  assert.match((await kataCc(['run', '--help'])).stdout, /--decryption-key <file>[\s\S]*--insecure-registry[\s\S]*--kbs <url>[\s\S]*--tee <profile>/);
});

test('check: profile none passes here (QEMU present); tdx fails and says how to fix it', async () => {
  const none = await kataCc(['check', '--json']);
  assert.equal(none.code, 0);
  const doc = JSON.parse(none.stdout) as { ok: boolean; checks: Array<{ id: string; ok: boolean; fix?: string }> };
  assert.equal(doc.ok, true);
  assert.ok(doc.checks.find((c) => c.id === 'qemu')?.ok);
  const tdx = await kataCc(['check', '--tee', 'tdx']);
  assert.equal(tdx.code, 1);
  assert.match(tdx.stdout, /✗ Intel TDX enabled in KVM[\s\S]*fix: .*kvm_intel tdx=1/);
  assert.match(tdx.stdout, /This host cannot run tdx pods/);
});

test('run: bad input is refused with exit 125 and a stable code', async () => {
  const key = await kataCc(['run', '--decryption-key', '/nonexistent/key.pem', 'x/y:z']);
  assert.equal(key.code, 125);
  assert.match(key.stderr, /KCC_KEY_NOT_FOUND: Decryption key file "\/nonexistent\/key.pem" does not exist/);
  const reg1 = await kataCc(['run', '--insecure-registry', 'nope', 'x/y:z']);
  assert.notEqual(reg1.code, 0);
  assert.match(reg1.stderr, /expected HOST:PORT/);
});

test('run: the image is pulled in a real guest, output streamed, exit status returned', async () => {
  const r = await kataCc(['run', '--insecure-registry', reg.host, `${reg.host}/kcc/bb:latest`, '--', 'sh', '-c', 'cat /hello.txt; echo to-stderr >&2; uname -r; exit 3'], 600_000);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stdout, /^hello from kata-cc test image\n6\.1\.0-\d+-amd64\n$/);
  assert.match(r.stderr, /to-stderr/);
  assert.match(r.stderr, /booting the guest \(none, tcg\)/);
});
