import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { requireTool, startRegistry, tempDir, type TestRegistry } from '@kata-cc/testing';
import { pullImage } from '../pull.js';

// Layers written by real tools (umoci repack: Go archive/tar, PAX headers, whiteouts for
// deletions) unpacked by us and by umoci must give the same tree.
const umoci = requireTool('umoci');
const skopeo = requireTool('skopeo');
const tmp = await tempDir('img-umoci-');
const p = (f: string): string => path.join(tmp.dir, f);
let reg: TestRegistry;

function tree(root: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const name of readdirSync(path.join(root, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(path.join(root, r));
      const kind = st.isDirectory() ? 'd' : st.isSymbolicLink() ? `l:${readlinkSync(path.join(root, r))}` : `f:${createHash('sha256').update(readFileSync(path.join(root, r))).digest('hex').slice(0, 12)}:n${st.nlink}`;
      out.push(`${r} ${kind} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid} ${st.isDirectory() ? '' : Math.floor(st.mtimeMs / 1000)}`);
      if (st.isDirectory()) walk(r);
    }
  };
  walk('');
  return out;
}

before(async () => {
  reg = await startRegistry();
  const L = p('layout');
  execFileSync(umoci, ['init', '--layout', L]);
  execFileSync(umoci, ['new', '--image', `${L}:v1`]);
  execFileSync(umoci, ['unpack', '--image', `${L}:v1`, p('work')]);
  const r = p('work/rootfs');
  mkdirSync(path.join(r, 'bin'));
  copyFileSync('/bin/busybox', path.join(r, 'bin/busybox'));
  for (const a of ['sh', 'ls', 'cat']) symlinkSync('busybox', path.join(r, 'bin', a));
  mkdirSync(path.join(r, 'etc'));
  writeFileSync(path.join(r, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  linkSync(path.join(r, 'etc/passwd'), path.join(r, 'etc/passwd.hard'));
  mkdirSync(path.join(r, 'tmp'));
  chmodSync(path.join(r, 'tmp'), 0o1777);
  writeFileSync(path.join(r, 'bin/suid'), 'x');
  chmodSync(path.join(r, 'bin/suid'), 0o4755);
  mkdirSync(path.join(r, 'var/cache/deep/er'), { recursive: true });
  writeFileSync(path.join(r, 'var/cache/deep/er/x'), 'cache');
  writeFileSync(path.join(r, `${'long-name-'.repeat(15)}.txt`), 'pax path');
  execFileSync(umoci, ['repack', '--refresh-bundle', '--image', `${L}:v1`, p('work')]);
  // Second layer: a deletion (whiteout), a replaced file, a new file.
  rmSync(path.join(r, 'var/cache'), { recursive: true });
  writeFileSync(path.join(r, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/:/bin/sh\n');
  writeFileSync(path.join(r, 'new.txt'), 'layer 2');
  execFileSync(umoci, ['repack', '--image', `${L}:v1`, p('work')]);
  execFileSync(umoci, ['config', '--image', `${L}:v1`, '--config.cmd', '/bin/sh', '--architecture', 'amd64']);
  execFileSync(skopeo, ['copy', '--quiet', '--preserve-digests', '--dest-tls-verify=false', `oci:${L}:v1`, `docker://${reg.host}/umoci/img:v1`]);
  execFileSync(umoci, ['unpack', '--image', `${L}:v1`, p('reference')]);
});
after(async () => {
  await reg?.stop();
  await tmp.cleanup();
});

test('pullImage() unpacks umoci-built layers (whiteouts, hardlinks, suid, sticky, PAX) exactly like umoci unpack', async () => {
  const r = await pullImage(`${reg.host}/umoci/img:v1`, { dest: p('ours'), insecureRegistries: [reg.host] });
  assert.equal(r.layers.length, 2);
  const ours = tree(r.rootfs);
  assert.deepEqual(ours, tree(p('reference/rootfs')));
  assert.ok(ours.some((l) => l.startsWith('etc/passwd.hard ') && l.includes(':n2 ')));
  assert.ok(!ours.some((l) => l.startsWith('var/cache')));
});
