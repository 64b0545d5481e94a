#!/usr/bin/env node
// Builds the kata-cc container images as OCI image layouts, without a Docker engine (umoci):
//
//   kbs        the Key Broker Service and kbs-cli; runs as uid 65532; entrypoint kbs
//   installer  kata-cc-installer plus the runtime payload at /opt/kata-cc-artifacts and busybox
//              (sh, cat, nsenter for the DaemonSet); entrypoint kata-cc-installer
//
// Usage: node deploy/images/build-image.mjs --image kbs|installer --out OCI_DIR [--tag 0.1.0]
//          [--guest DIR] [--ovmf-tdx F] [--ovmf-snp F]      (installer payload options)
// Then push with skopeo, e.g.
//   skopeo copy oci:OCI_DIR:0.1.0 docker://myregistry.azurecr.io/kata-cc-kbs:0.1.0
// Needs: umoci, ldd, and a built checkout (npm ci && npx tsc -b). Images are linux/<this arch>:
// the Node binary and its shared libraries come from this machine.
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { copyAtPath, copyClosure, sharedLibraries } from './closure.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { values: o } = parseArgs({
  options: {
    image: { type: 'string' }, out: { type: 'string' }, tag: { type: 'string' }, guest: { type: 'string' },
    'ovmf-tdx': { type: 'string' }, 'ovmf-snp': { type: 'string' }, help: { type: 'boolean', short: 'h' },
  },
});
if (o.help || !o.out || !['kbs', 'installer'].includes(o.image ?? '')) {
  process.stdout.write('usage: build-image.mjs --image kbs|installer --out OCI_DIR [--tag TAG] [--guest DIR] [--ovmf-tdx F] [--ovmf-snp F]\n');
  process.exit(o.help ? 0 : 2);
}
const version = JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')).version;
const tag = o.tag ?? version;
const step = (s) => process.stderr.write(`build-image ${o.image}: ${s}\n`);
const umoci = (...args) => execFileSync('umoci', args, { stdio: ['ignore', 'pipe', 'inherit'] });

// A command on PATH inside the image. No extension and no package.json around it, so Node
// reads it as CommonJS: a dynamic import (no top-level await) loads the ESM program.
const launcher = (target) => `#!/usr/local/bin/node\nimport('/app/${target}').catch((e) => { console.error(e); process.exit(1); });\n`;

const stage = mkdtempSync(path.join(tmpdir(), `kata-cc-image-${o.image}-`));
try {
  const rootfs = path.join(stage, 'rootfs');
  step('Node.js runtime and its shared libraries');
  const node = process.execPath;
  copyAtPath(rootfs, [...sharedLibraries(node)]);
  mkdirSync(path.join(rootfs, 'usr/local/bin'), { recursive: true });
  cpSync(node, path.join(rootfs, 'usr/local/bin/node'));
  for (const f of ['/etc/ssl/certs/ca-certificates.crt']) if (existsSync(f)) copyAtPath(rootfs, [f]);
  mkdirSync(path.join(rootfs, 'tmp'), { recursive: true });
  chmodSync(path.join(rootfs, 'tmp'), 0o1777);
  mkdirSync(path.join(rootfs, 'etc'), { recursive: true });
  writeFileSync(path.join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n');
  writeFileSync(path.join(rootfs, 'etc/group'), 'root:x:0:\nnonroot:x:65532:\n');

  const roots = o.image === 'kbs' ? ['kbs/server', 'kbs/cli'] : ['runtime/installer'];
  step(`application: ${roots.join(', ')} and their dependency closure`);
  const addons = copyClosure(repo, roots, path.join(rootfs, 'app'));
  for (const addon of addons) copyAtPath(rootfs, sharedLibraries(addon));

  let config;
  if (o.image === 'kbs') {
    mkdirSync(path.join(rootfs, 'var/lib/kbs'), { recursive: true });
    mkdirSync(path.join(rootfs, 'home/nonroot'), { recursive: true });
    for (const [bin, target] of [['kbs', 'kbs/server/bin/kbs.js'], ['kbs-cli', 'kbs/cli/bin/kbs-cli.js']]) {
      writeFileSync(path.join(rootfs, 'usr/local/bin', bin), launcher(target));
      chmodSync(path.join(rootfs, 'usr/local/bin', bin), 0o755);
    }
    config = { entrypoint: ['/usr/local/bin/node', '/app/kbs/server/bin/kbs.js'], user: '65532:65532', ports: ['8080/tcp'], chown: ['var/lib/kbs', 'home/nonroot'] };
  } else {
    step('busybox (sh, cat, nsenter) and the runtime payload');
    const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
    if (!busybox) throw new Error('busybox-static is not installed (apt-get install busybox-static)');
    mkdirSync(path.join(rootfs, 'bin'), { recursive: true });
    cpSync(busybox, path.join(rootfs, 'bin/busybox'));
    for (const applet of ['sh', 'cat', 'ls', 'nsenter', 'chroot']) symlinkSync('busybox', path.join(rootfs, 'bin', applet));
    const payloadArgs = ['--out', path.join(rootfs, 'opt/kata-cc-artifacts')];
    for (const k of ['guest', 'ovmf-tdx', 'ovmf-snp']) if (o[k]) payloadArgs.push(`--${k}`, path.resolve(o[k]));
    execFileSync(process.execPath, [path.join(repo, 'deploy/images/build-payload.mjs'), ...payloadArgs], { stdio: ['ignore', 'ignore', 'inherit'] });
    writeFileSync(path.join(rootfs, 'usr/local/bin/kata-cc-installer'), launcher('runtime/installer/bin/kata-cc-installer.js'));
    chmodSync(path.join(rootfs, 'usr/local/bin/kata-cc-installer'), 0o755);
    config = { entrypoint: ['/usr/local/bin/node', '/app/runtime/installer/bin/kata-cc-installer.js'], user: '0:0', ports: [], chown: [] };
  }
  for (const d of config.chown) execFileSync('chown', ['-R', '65532:65532', path.join(rootfs, d)]);

  step(`OCI layout ${o.out}:${tag}`);
  const out = path.resolve(o.out);
  if (!existsSync(path.join(out, 'index.json'))) umoci('init', '--layout', out);
  umoci('new', '--image', `${out}:${tag}`);
  umoci('insert', '--image', `${out}:${tag}`, rootfs, '/');
  const cfg = ['config', '--image', `${out}:${tag}`, '--config.user', config.user, '--config.workingdir', '/app', '--config.env', 'PATH=/usr/local/bin:/usr/bin:/bin', '--config.env', 'NODE_ENV=production',
    '--config.label', `org.opencontainers.image.title=kata-cc-${o.image}`, '--config.label', `org.opencontainers.image.version=${version}`,
    '--author', 'kata-cc'];
  for (const e of config.entrypoint) cfg.push('--config.entrypoint', e);
  for (const p of config.ports) cfg.push('--config.exposedports', p);
  umoci(...cfg);
  umoci('gc', '--layout', out);
  process.stdout.write(`${out}:${tag}\n`);
} finally {
  rmSync(stage, { recursive: true, force: true });
}
