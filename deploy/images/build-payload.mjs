#!/usr/bin/env node
// Assembles the runtime payload the installer copies to /opt/kata-cc on each node:
//
//   <out>/bin/containerd-shim-kata-cc-v2, bin/kata-cc     launchers (deploy/runtime/payload/bin)
//   <out>/node/bin/node                                   the Node.js runtime (this node binary)
//   <out>/lib/kata-cc/                                    the built repository subset the host runs
//   <out>/share/kata-cc/{vmlinux,initrd.img,rootfs.img,manifest.json}   guest (kata-cc-build-guest output)
//   <out>/share/ovmf/{OVMF.inteltdx.fd,AMDSEV.fd}          TEE firmware, when given
//   <out>/share/defaults/kata-cc/configuration-{tdx,snp,se,dev}.toml   rendered for --prefix
//
// Usage: node deploy/images/build-payload.mjs --out DIR [--guest DIR] [--prefix /opt/kata-cc]
//          [--ovmf-tdx FILE] [--ovmf-snp FILE] [--link]
// Run after `npm ci && npx tsc -b`. --link makes
// node/ and lib/kata-cc symlinks to this Node and this checkout (development and tests).
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { copyClosure } from './closure.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { values: o } = parseArgs({
  options: {
    out: { type: 'string' }, guest: { type: 'string' }, prefix: { type: 'string', default: '/opt/kata-cc' },
    'ovmf-tdx': { type: 'string' }, 'ovmf-snp': { type: 'string' }, link: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' },
  },
});
if (o.help || !o.out) {
  process.stdout.write('usage: build-payload.mjs --out DIR [--guest DIR] [--prefix /opt/kata-cc] [--ovmf-tdx F] [--ovmf-snp F] [--link]\n');
  process.exit(o.help ? 0 : 2);
}
const fail = (msg) => { process.stderr.write(`build-payload: ${msg}\n`); process.exit(1); };
if (!/^\/[\w./-]*$/.test(o.prefix) || o.prefix.includes('..')) fail('--prefix must be an absolute path of [A-Za-z0-9_./-]');
const out = path.resolve(o.out);
const step = (s) => process.stderr.write(`build-payload: ${s}\n`);
for (const d of ['bin', 'node/bin', 'lib', 'share/kata-cc', 'share/ovmf', 'share/defaults/kata-cc']) mkdirSync(path.join(out, d), { recursive: true });

step('launchers');
const payloadSrc = path.join(repo, 'deploy/runtime/payload');
for (const f of readdirSync(path.join(payloadSrc, 'bin'))) {
  cpSync(path.join(payloadSrc, 'bin', f), path.join(out, 'bin', f));
  chmodSync(path.join(out, 'bin', f), 0o755);
}

step(`node runtime ${process.version}`);
const nodeOut = path.join(out, 'node/bin/node');
rmSync(nodeOut, { force: true });
if (o.link) symlinkSync(process.execPath, nodeOut);
else cpSync(process.execPath, nodeOut);

const libOut = path.join(out, 'lib/kata-cc');
rmSync(libOut, { recursive: true, force: true });
if (o.link) {
  step(`lib -> ${repo}`);
  symlinkSync(repo, libOut);
} else {
  // The host runs the shim, the kata-cc CLI and the guest-pull snapshotter: their dependency closure, laid out as in
  // the checkout (deploy/images/closure.mjs).
  step('lib (runtime/shim, runtime/cli and runtime/snapshotter with their dependency closure)');
  const addons = copyClosure(repo, ['runtime/shim', 'runtime/cli', 'runtime/snapshotter'], libOut);
  if (addons.length > 0) step(`native addons: ${addons.map((a) => path.relative(libOut, a)).join(', ')}`);
}

let cmdline = '';
if (o.guest) {
  const manifest = JSON.parse(readFileSync(path.join(o.guest, 'manifest.json'), 'utf8'));
  step(`guest image ${manifest.rootHash ?? ''}`);
  for (const f of ['vmlinux', 'initrd.img', 'rootfs.img', 'manifest.json']) cpSync(path.join(o.guest, f), path.join(out, 'share/kata-cc', f));
  cmdline = String(manifest.cmdline ?? '');
} else {
  step('WARNING: no --guest: share/kata-cc/ stays empty (build it with npx kata-cc-build-guest --out DIR)');
}
if (o['ovmf-tdx']) cpSync(o['ovmf-tdx'], path.join(out, 'share/ovmf/OVMF.inteltdx.fd'));
if (o['ovmf-snp']) cpSync(o['ovmf-snp'], path.join(out, 'share/ovmf/AMDSEV.fd'));

step(`configurations for prefix ${o.prefix}`);
const tplDir = path.join(payloadSrc, 'share/defaults/kata-cc');
for (const tpl of readdirSync(tplDir).filter((f) => f.endsWith('.toml.in'))) {
  const text = readFileSync(path.join(tplDir, tpl), 'utf8').replaceAll('@PREFIX@', o.prefix).replaceAll('@GUEST_CMDLINE@', cmdline.replace(/["\\]/g, ''));
  writeFileSync(path.join(out, 'share/defaults/kata-cc', tpl.slice(0, -'.in'.length)), text);
}
process.stdout.write(out + '\n');
