import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { parse } from 'smol-toml';
import { fixturePath } from '@kata-cc/testing';
import { hasCode } from '@kata-cc/errors';
import { handlerSpecs } from '../handlers.js';
import { planEdit, stripManaged, type EditInput } from './edit.js';

const fixture = (name: string): string => readFileSync(fixturePath(import.meta.url, `../testdata/configs/${name}`), 'utf8');
const specs = handlerSpecs('/opt/kata-cc');
const input = (base: string | null, containerdMajor: number | null = null): EditInput => ({
  base,
  containerdMajor,
  specs,
  shimPath: '/opt/kata-cc/bin/containerd-shim-kata-cc-v2',
  dropInPath: '/opt/kata-cc/containerd/config.d/kata-cc.toml',
});
type Tree = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

test('planEdit() appends the handlers to a containerd 1.x (schema 2) config and keeps every other setting', () => {
  const base = fixture('aks-v2.toml');
  const plan = planEdit(input(base));
  assert.equal(plan.schema, 2);
  assert.equal(plan.mode, 'in-place');
  assert.equal(plan.dropIn, null);
  assert.ok(plan.mainConfig.startsWith(base), 'original bytes stay first, untouched');
  const cfg = parse(plan.mainConfig) as Tree;
  const runtimes = cfg['plugins']['io.containerd.grpc.v1.cri']['containerd']['runtimes'];
  assert.deepEqual(Object.keys(runtimes).sort(), ['kata-cc', 'kata-cc-dev', 'kata-cc-se', 'kata-cc-snp', 'kata-cc-tdx', 'runc', 'untrusted']);
  assert.deepEqual(JSON.parse(JSON.stringify(runtimes['kata-cc-tdx'])), {
    runtime_type: 'io.containerd.kata-cc.v2',
    runtime_path: '/opt/kata-cc/bin/containerd-shim-kata-cc-v2',
    privileged_without_host_devices: true,
    pod_annotations: ['io.katacontainers.*'],
    options: { ConfigPath: '/opt/kata-cc/share/defaults/kata-cc/configuration-tdx.toml' },
  });
  assert.equal(runtimes['kata-cc']['options']['ConfigPath'], '/opt/kata-cc/share/defaults/kata-cc/configuration.toml');
  assert.equal(runtimes['kata-cc-dev']['options']['ConfigPath'], '/opt/kata-cc/share/defaults/kata-cc/configuration-dev.toml');
  assert.equal(cfg['plugins']['io.containerd.grpc.v1.cri']['sandbox_image'], 'mcr.microsoft.com/oss/kubernetes/pause:3.6');
  assert.equal(stripManaged(plan.mainConfig), base);
});

test('planEdit() uses plugins.cri for a legacy (version 1) config without a trailing newline', () => {
  const base = fixture('legacy-v1-no-newline.toml');
  const plan = planEdit(input(base));
  assert.equal(plan.schema, 1);
  const cfg = parse(plan.mainConfig) as Tree;
  assert.ok(cfg['plugins']['cri']['containerd']['runtimes']['kata-cc-snp']);
  assert.equal(stripManaged(plan.mainConfig), base + '\n', 'only the newline the installer had to add remains');
});

test('planEdit() on containerd 2.x (schema 3) puts a drop-in into an imported conf.d glob without touching config.toml', () => {
  const base = fixture('v3-confd.toml');
  const plan = planEdit(input(base));
  assert.equal(plan.schema, 3);
  assert.equal(plan.mode, 'drop-in-glob');
  assert.equal(plan.mainConfig, base);
  assert.equal(plan.dropIn?.path, '/etc/containerd/conf.d/kata-cc.toml');
  const dropIn = parse(plan.dropIn?.text ?? '') as Tree;
  assert.equal(dropIn['version'], 3);
  assert.equal(dropIn['plugins']['io.containerd.cri.v1.runtime']['containerd']['runtimes']['kata-cc-se']['runtime_type'], 'io.containerd.kata-cc.v2');
});

test('planEdit() adds its drop-in to an existing multi-line imports array, and stripManaged() restores it', () => {
  const base = fixture('v3-imports-multiline.toml');
  const plan = planEdit(input(base));
  assert.equal(plan.mode, 'drop-in');
  const cfg = parse(plan.mainConfig) as Tree;
  assert.deepEqual(cfg['imports'], ['/etc/containerd/extra/gpu.toml', '/etc/containerd/extra/mirrors.toml', '/opt/kata-cc/containerd/config.d/kata-cc.toml']);
  assert.equal(cfg['root'], '/var/lib/containerd');
  assert.equal(stripManaged(plan.mainConfig), base);
});

test('planEdit() adds a top-level imports line to a schema 3 config that has none', () => {
  const base = fixture('v3-plain.toml');
  const plan = planEdit(input(base));
  assert.equal(plan.mode, 'drop-in');
  assert.deepEqual((parse(plan.mainConfig) as Tree)['imports'], ['/opt/kata-cc/containerd/config.d/kata-cc.toml']);
  assert.equal(stripManaged(plan.mainConfig), base);
});

test('planEdit() without a config file writes a whole file for the detected containerd major version', () => {
  assert.equal((parse(planEdit(input(null, 1)).mainConfig) as Tree)['version'], 2);
  const v3 = planEdit(input(null, 2));
  assert.equal(v3.mode, 'new-file');
  assert.ok((parse(v3.mainConfig) as Tree)['plugins']['io.containerd.cri.v1.runtime']['containerd']['runtimes']['kata-cc']);
  assert.throws(() => planEdit(input(null, null)), (e) => hasCode(e, 'INST_CONTAINERD_VERSION_UNKNOWN'));
});

test('planEdit() refuses a handler someone else defined, inline tables it cannot extend, and broken TOML', () => {
  assert.throws(() => planEdit(input(fixture('v2-taken.toml'))), (e) => hasCode(e, 'INST_CONFIG_CONFLICT') && /kata-cc/.test(e.message));
  assert.throws(() => planEdit(input(fixture('v2-inline.toml'))), (e) => hasCode(e, 'INST_CONFIG_PARSE'));
  assert.throws(() => planEdit(input('version = 2\n[plugins\n')), (e) => hasCode(e, 'INST_CONFIG_PARSE'));
});

test('stripManaged(planEdit(x)) gives x back for arbitrary schema-2 configs (property)', () => {
  const line = fc.oneof(
    fc.constant(''),
    fc.constant('# comment'),
    fc.stringMatching(/^[a-z_]{1,8}$/).map((k) => `${k}_x = "v"`),
    fc.constant('[metrics]\n  address = "127.0.0.1:1338"'),
  );
  fc.assert(
    fc.property(fc.array(line, { maxLength: 6 }), fc.boolean(), (lines, trailingNewline) => {
      const uniq = [...new Set(lines)];
      const body = ['version = 2', ...uniq.filter((l) => !l.startsWith('['))].join('\n') + (uniq.some((l) => l.startsWith('[')) ? '\n[metrics]\n  address = "127.0.0.1:1338"' : '');
      const base = trailingNewline ? body + '\n' : body + '\n\n';
      assert.equal(stripManaged(planEdit(input(base)).mainConfig), base);
    }),
    { numRuns: 200 },
  );
});

const GP_SOCKET = '/run/kata-cc-snapshotter/snapshotter.sock';
const withGuestPull = (base: string | null, mode: 'per-runtime' | 'global', major: number | null = null): EditInput => ({ ...input(base, major), guestPull: { mode, name: 'kata-cc', socket: GP_SOCKET } });

test('planEdit() with guest pull adds proxy_plugins."kata-cc" and snapshotter = "kata-cc" on each kata-cc handler (schema 2 and 3)', () => {
  for (const [name, base] of [['aks-v2', fixture('aks-v2.toml')], ['v3-plain', fixture('v3-plain.toml')]] as const) {
    const plan = planEdit(withGuestPull(base, 'per-runtime'));
    const cfg = parse(plan.dropIn?.text ?? plan.mainConfig) as Tree;
    assert.deepEqual(JSON.parse(JSON.stringify(cfg['proxy_plugins'])), { 'kata-cc': { type: 'snapshot', address: GP_SOCKET } }, name);
    const runtimes = plan.schema === 3 ? cfg['plugins']['io.containerd.cri.v1.runtime']['containerd']['runtimes'] : cfg['plugins']['io.containerd.grpc.v1.cri']['containerd']['runtimes'];
    for (const h of specs) assert.equal(runtimes[h.name]['snapshotter'], 'kata-cc', `${name} ${h.name}`);
    if (plan.schema === 2) {
      assert.equal(runtimes['runc']['snapshotter'], undefined, 'runc pods keep their snapshotter');
      assert.equal(cfg['plugins']['io.containerd.grpc.v1.cri']['containerd']['snapshotter'], undefined, 'per-runtime leaves the global CRI snapshotter alone');
      assert.equal(stripManaged(plan.mainConfig), base);
    }
  }
});

test('planEdit() with --guest-pull global sets CRI containerd.snapshotter inside the existing table, and stripManaged() undoes it', () => {
  const base = fixture('aks-v2.toml');
  const plan = planEdit(withGuestPull(base, 'global'));
  const cfg = parse(plan.mainConfig) as Tree;
  assert.equal(cfg['plugins']['io.containerd.grpc.v1.cri']['containerd']['snapshotter'], 'kata-cc');
  assert.equal(cfg['plugins']['io.containerd.grpc.v1.cri']['containerd']['default_runtime_name'], 'runc');
  assert.equal(stripManaged(plan.mainConfig), base);
  // An existing snapshotter line is replaced and comes back on strip.
  const own = base.replace('    default_runtime_name = "runc"\n', '    default_runtime_name = "runc"\n    snapshotter = "overlayfs"\n');
  const p2 = planEdit(withGuestPull(own, 'global'));
  assert.equal((parse(p2.mainConfig) as Tree)['plugins']['io.containerd.grpc.v1.cri']['containerd']['snapshotter'], 'kata-cc');
  assert.equal(stripManaged(p2.mainConfig), own);
  // No [..containerd] header at all: the table is appended after the handlers.
  const bare = 'version = 2\n[plugins."io.containerd.grpc.v1.cri"]\n  sandbox_image = "pause"\n';
  const p3 = planEdit(withGuestPull(bare, 'global'));
  assert.equal((parse(p3.mainConfig) as Tree)['plugins']['io.containerd.grpc.v1.cri']['containerd']['snapshotter'], 'kata-cc');
  assert.equal(stripManaged(p3.mainConfig), bare);
  const fresh = planEdit(withGuestPull(null, 'global', 1));
  assert.equal((parse(fresh.mainConfig) as Tree)['plugins']['io.containerd.grpc.v1.cri']['containerd']['snapshotter'], 'kata-cc');
});

test('planEdit() guest pull errors: global on schema 3, a proxy_plugins."kata-cc" the installer does not manage', () => {
  assert.throws(() => planEdit(withGuestPull(fixture('v3-plain.toml'), 'global')), (e: unknown) => hasCode(e, 'INST_BAD_ARGUMENT'));
  const taken = `${fixture('aks-v2.toml')}[proxy_plugins.kata-cc]\n  type = "snapshot"\n  address = "/x.sock"\n`;
  assert.throws(() => planEdit(withGuestPull(taken, 'per-runtime')), (e: unknown) => hasCode(e, 'INST_CONFIG_CONFLICT'));
});
