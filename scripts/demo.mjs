#!/usr/bin/env node
// `npm run demo`: the main job end to end on one machine, nothing to prepare but `npm ci`.
//
//   1. the guest image (built once by the image builder, then cached in ~/.cache/kata-cc/guest)
//   2. Debian's docker-registry on a free loopback port (temp dir)
//   3. a tiny busybox image whose Cmd prints /message.txt, as an OCI layout
//   4. `kbs-cli encrypt-image`: every layer encrypted (ocicrypt), the layer keys wrapped under a
//      fresh 32-byte KEK for the KBS resource kbs:///default/demo-key/1, pushed to the registry
//   5. `kata-cc run --decryption-key KEK`: the embedded KBS holds the KEK, the guest attests
//      (sample TEE, dev mode), its CDH gets the KEK, and the guest pulls, decrypts and runs
//
// The container's output is streamed; the exit status is kata-cc's (the container's, 125 when
// kata-cc itself failed). The registry and the temp dir are removed on every exit path.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(`Usage: npm run demo [-- --keep] [-- --guest-dir DIR] [-- --tee none|tdx|snp|se]

Runs an encrypted image in a confidential guest on this machine, end to end:
  guest image (built on first use, ~10 s, then cached) -> local registry -> busybox image
  -> kbs-cli encrypt-image (kid kbs:///default/demo-key/1) -> kata-cc run --decryption-key
It prints "hello from a confidential guest", read from a layer only the attested guest can decrypt.

Options:
  --keep            keep the temp dir (image layout, KEK) and print its path
  --guest-dir DIR   use this guest image instead of the builder's cached one
  --tee PROFILE     kata-cc run --tee (default none: the sample TEE, dev mode)
  -h, --help        this text

Needs: Debian's docker-registry, qemu-system-x86, busybox-static (see .ci/packages.txt).
Takes about a minute under TCG (no nested KVM; 35-65 s measured on 2 shared cores), most of it the guest boot, attestation and pull.
`);
  process.exit(0);
}
const opt = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const keep = args.includes('--keep');

const t0 = Date.now();
const step = (msg) => process.stderr.write(`\n[demo ${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}\n`);

/** Runs a program, stdio inherited unless asked; resolves its exit status and stdout. */
function run(cmd, argv, { capture = false } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', capture ? 'pipe' : 'inherit', 'inherit'] });
    let out = '';
    child.stdout?.on('data', (d) => { out += d; });
    const forward = (sig) => child.kill(sig);
    process.on('SIGINT', forward).on('SIGTERM', forward);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      process.off('SIGINT', forward).off('SIGTERM', forward);
      resolve({ code: code ?? (signal ? 128 + 2 : 1), out });
    });
  });
}

if (!existsSync(path.join(repo, 'runtime/cli/dist/bin/kata-cc.js')) || !existsSync(path.join(repo, 'libs/testing/dist/index.js'))) {
  step('compiling (npm ci normally did this)');
  const r = await run(process.execPath, [path.join(repo, 'node_modules/typescript/bin/tsc'), '-b'], {});
  if (r.code !== 0) process.exit(r.code);
}
const { busyboxImage, buildTar, startRegistry, writeOciLayout } = await import('@kata-cc/testing');

let registry;
let work;
let cleaned = false;
async function cleanup() {
  if (cleaned) return;
  cleaned = true;
  if (registry) {
    // A Ctrl-C reaches the registry too (same process group); stop() of the test helper then
    // waits for an exit that already happened, so it gets 5 s and its dir is removed here.
    await Promise.race([registry.stop().catch(() => {}), new Promise((r) => setTimeout(r, 5000))]);
    await rm(registry.dir, { recursive: true, force: true });
  }
  if (work && !keep) await rm(work, { recursive: true, force: true });
  if (work && keep) process.stderr.write(`[demo] kept ${work}\n`);
}
let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { interrupted = true; });

let status = 125;
try {
  let guestDir = opt('--guest-dir');
  if (!guestDir) {
    step('guest image: built once by the image builder, then cached (~/.cache/kata-cc/guest)');
    const g = await run(process.execPath, [path.join(repo, 'guest-components/image-builder/bin/kata-cc-build-guest.js'), '--json'], { capture: true });
    if (g.code !== 0) throw new Error(`the guest image builder failed (exit ${g.code}); see its messages above`);
    guestDir = JSON.parse(g.out).dir;
    process.stderr.write(`guest image: ${guestDir}\n`);
  }

  step('starting a local registry (Debian docker-registry)');
  work = await mkdtemp(path.join(tmpdir(), 'kcc-demo-'));
  registry = await startRegistry();
  process.stderr.write(`registry: http://${registry.host}\n`);

  step('building a busybox image whose Cmd is `cat /message.txt`');
  const bb = await busyboxImage(['cat', '/message.txt']);
  const secret = { tar: buildTar([{ path: 'message.txt', data: 'hello from a confidential guest\n' }]) };
  writeOciLayout(path.join(work, 'layout'), 'v1', { ...bb, layers: [...bb.layers, secret] });

  const image = `${registry.host}/demo/hello:enc`;
  const kek = path.join(work, 'kek.bin');
  step(`encrypting it for the KBS: kbs-cli encrypt-image --kid kbs:///default/demo-key/1 -> ${image}`);
  const enc = await run(process.execPath, [path.join(repo, 'kbs/cli/bin/kbs-cli.js'), 'encrypt-image', '--src', `oci:${path.join(work, 'layout')}:v1`,
    '--dest', `docker://${image}`, '--kid', 'kbs:///default/demo-key/1', '--key-file', kek, '--generate-key', '--insecure'], { capture: true });
  if (enc.code !== 0) throw new Error(`kbs-cli encrypt-image failed (exit ${enc.code})`);

  step(`running it in a confidential guest: kata-cc run --decryption-key ${path.basename(kek)} --insecure-registry ${registry.host} ${image}`);
  if (interrupted) throw new Error('interrupted');
  const r = await run(process.execPath, [path.join(repo, 'runtime/cli/bin/kata-cc.js'), 'run', '--decryption-key', kek, '--insecure-registry', registry.host,
    '--guest-dir', guestDir, ...(opt('--tee') ? ['--tee', opt('--tee')] : []), image]);
  status = r.code;
  step(status === 0 ? 'done: the layer was decrypted inside the guest with a key only the KBS released' : `kata-cc run exited with ${status}`);
} catch (e) {
  process.stderr.write(`demo: error: ${e instanceof Error ? e.message : String(e)}\n`);
} finally {
  await cleanup();
}
process.exit(status);
