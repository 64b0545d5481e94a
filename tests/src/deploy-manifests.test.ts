import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfigFile } from '@kata-cc/hypervisor';
import { repoRoot, requireTool, tempDir } from '@kata-cc/testing';
import { kustomizeBuild, parseYamlDocs, type KObject } from './deploy-kustomize.js';
import { schemaErrors } from './deploy-schema.js';

// Every manifest in deploy/ parses, every kustomization renders (the kustomize subset in
// deploy-kustomize.ts) and every rendered object passes the Kubernetes API schemas.
const deploy = path.join(repoRoot(), 'deploy');
let work: { dir: string; cleanup: () => Promise<void> };
let kbsDir: string;

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    return statSync(p).isDirectory() ? yamlFiles(p) : /\.ya?ml$/.test(n) ? [p] : [];
  });
}

before(async () => {
  work = await tempDir('kcc-deploy-manifests-');
  // The per-deployment files the operator's guide has you create, made the same way (openssl).
  const openssl = requireTool('openssl');
  kbsDir = path.join(work.dir, 'kbs');
  cpSync(path.join(deploy, 'kbs'), kbsDir, { recursive: true });
  const key = path.join(work.dir, 'admin.key');
  execFileSync(openssl, ['genpkey', '-algorithm', 'ed25519', '-out', key]);
  for (const o of ['dev', 'production']) execFileSync(openssl, ['pkey', '-in', key, '-pubout', '-out', path.join(kbsDir, 'overlays', o, 'admin.pub')]);
  execFileSync(openssl, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=kbs.kata-cc-kbs.svc',
    '-addext', 'subjectAltName=DNS:kbs.kata-cc-kbs.svc,IP:10.0.0.10', '-keyout', path.join(kbsDir, 'overlays/production/tls.key'), '-out', path.join(kbsDir, 'overlays/production/tls.crt')], { stdio: 'pipe' });
  writeFileSync(path.join(kbsDir, 'overlays/production/postgres.env'), 'PGPASSWORD=not-a-real-password\n');
});
after(() => work.cleanup());

async function assertValid(objs: KObject[]): Promise<void> {
  const errors = (await Promise.all(objs.map((o) => schemaErrors(o)))).flat();
  assert.deepEqual(errors, []);
}
const find = (objs: KObject[], kind: string, name: string): KObject => {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(o, `${kind}/${name} rendered`);
  return o;
};
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const podSpec = (o: KObject): any => (o['spec'] as any).template.spec;

test('every YAML file under deploy/ parses (strict, unique keys)', () => {
  const files = yamlFiles(deploy);
  assert.ok(files.length >= 15, `found ${files.length} YAML files`);
  for (const f of files) assert.doesNotThrow(() => parseYamlDocs(f), f);
});

test('deploy/runtime/base renders the installer DaemonSet, its RBAC and five RuntimeClasses, all schema-valid', async () => {
  const objs = kustomizeBuild(path.join(deploy, 'runtime/base'));
  await assertValid(objs);
  const classes = objs.filter((o) => o.kind === 'RuntimeClass');
  assert.deepEqual(classes.map((c) => [c.metadata.name, c['handler']]), ['kata-cc', 'kata-cc-tdx', 'kata-cc-snp', 'kata-cc-se', 'kata-cc-dev'].map((n) => [n, n]));
  for (const c of classes) {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const s = c['scheduling'] as any;
    assert.equal(s.nodeSelector['kata-cc.io/runtime'], 'true');
    assert.deepEqual(s.tolerations, [{ key: 'kata-cc.io/confidential', operator: 'Equal', value: 'true', effect: 'NoSchedule' }]);
    assert.ok((c['overhead'] as { podFixed: Record<string, string> }).podFixed['memory']);
    assert.equal(c.metadata.namespace, undefined, 'RuntimeClass is cluster-scoped');
  }
  assert.equal((find(objs, 'RuntimeClass', 'kata-cc')['scheduling'] as { nodeSelector: Record<string, string> }).nodeSelector['kata-cc.io/cc-ready'], 'true', 'the default class never lands on a node without a TEE');
  assert.equal((find(objs, 'RuntimeClass', 'kata-cc-snp')['scheduling'] as { nodeSelector: Record<string, string> }).nodeSelector['kata-cc.io/tee'], 'snp');
  const ds = find(objs, 'DaemonSet', 'kata-cc-installer');
  const spec = podSpec(ds);
  assert.equal(spec.hostPID, true);
  assert.equal(spec.containers[0].securityContext.privileged, true);
  assert.equal(spec.containers[0].image, 'ghcr.io/kata-cc/kata-cc-installer:0.1.0');
  assert.deepEqual(spec.nodeSelector, { 'kata-cc.io/confidential': 'true' });
  assert.equal(spec.volumes[0].hostPath.path, '/');
  assert.equal(spec.containers[0].args[0], 'install');
  assert.equal(ds.metadata.namespace, 'kata-cc-system');
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  assert.deepEqual((find(objs, 'ClusterRole', 'kata-cc-installer') as any).rules, [{ apiGroups: [''], resources: ['nodes'], verbs: ['get', 'patch'] }]);
});

test('the installer DaemonSet passes only flags kata-cc-installer accepts (install and uninstall overlays)', async () => {
  const { stdout } = await import('node:child_process').then((cp) => ({ stdout: cp.execFileSync(process.execPath, [path.join(repoRoot(), 'runtime/installer/bin/kata-cc-installer.js'), 'install', '--help'], { encoding: 'utf8' }) }));
  const uninstallHelp = execFileSync(process.execPath, [path.join(repoRoot(), 'runtime/installer/bin/kata-cc-installer.js'), 'uninstall', '--help'], { encoding: 'utf8' });
  for (const [overlay, help] of [['base', stdout], ['overlays/dev', stdout], ['overlays/aks', stdout], ['overlays/uninstall', uninstallHelp]] as const) {
    const objs = kustomizeBuild(path.join(deploy, 'runtime', overlay));
    await assertValid(objs);
    const args = podSpec(find(objs, 'DaemonSet', 'kata-cc-installer')).containers[0].args as string[];
    for (const a of args.slice(1)) assert.ok(help.includes(a.replace(/=.*$/, '')), `${overlay}: ${args[0]} accepts ${a}`);
  }
  const dev = podSpec(find(kustomizeBuild(path.join(deploy, 'runtime/overlays/dev')), 'DaemonSet', 'kata-cc-installer'));
  assert.equal(dev.nodeSelector, undefined);
  assert.ok(dev.containers[0].args.includes('--tee=none'));
  assert.equal(dev.containers[0].image, 'localhost:5000/kata-cc-installer:dev');
  assert.equal(podSpec(find(kustomizeBuild(path.join(deploy, 'runtime/overlays/uninstall')), 'DaemonSet', 'kata-cc-installer')).containers[0].args[0], 'uninstall');
});

test('deploy/kbs/overlays/dev: one replica, SQLite, plain HTTP, --allow-sample, admin key Secret', async () => {
  const objs = kustomizeBuild(path.join(kbsDir, 'overlays/dev'));
  await assertValid(objs);
  const dep = find(objs, 'Deployment', 'kbs');
  const c = podSpec(dep).containers[0];
  assert.equal((dep['spec'] as { replicas: number }).replicas, 1);
  assert.deepEqual(c.args, ['--listen=0.0.0.0:8080', '--storage=$(KBS_STORAGE)', '--admin-key=/etc/kbs/admin/admin.pub', '--insecure-http', '--allow-sample']);
  assert.equal((find(objs, 'ConfigMap', 'kbs-config')['data'] as Record<string, string>)['KBS_STORAGE'], 'sqlite:/var/lib/kbs/kbs.db');
  const secret = find(objs, 'Secret', 'kbs-admin-key');
  assert.equal(secret.metadata.namespace, 'kata-cc-kbs');
  assert.match(Buffer.from((secret['data'] as Record<string, string>)['admin.pub'] ?? '', 'base64').toString(), /BEGIN PUBLIC KEY/);
  assert.equal(c.readinessProbe.httpGet.path, '/healthz');
  assert.equal((dep['spec'] as { template: { metadata: { annotations: Record<string, string> } } }).template.metadata.annotations['prometheus.io/scrape'], 'true');
  for (const kind of ['Service', 'NetworkPolicy', 'PodDisruptionBudget', 'Namespace']) find(objs, kind, kind === 'Namespace' ? 'kata-cc-kbs' : 'kbs');
});

test('deploy/kbs/overlays/production: three replicas on PostgreSQL, HTTPS probes and scrape, TLS Secret, no sample', async () => {
  const objs = kustomizeBuild(path.join(kbsDir, 'overlays/production'));
  await assertValid(objs);
  const dep = find(objs, 'Deployment', 'kbs');
  const spec = podSpec(dep);
  const c = spec.containers[0];
  assert.equal((dep['spec'] as { replicas: number }).replicas, 3);
  assert.ok(!c.args.includes('--allow-sample') && !c.args.includes('--insecure-http'));
  assert.ok(c.args.includes('--tls-cert=/etc/kbs/tls/tls.crt') && c.args.includes('--tls-key=/etc/kbs/tls/tls.key'));
  for (const p of ['readinessProbe', 'livenessProbe', 'startupProbe']) assert.equal(c[p].httpGet.scheme, 'HTTPS');
  assert.equal((dep['spec'] as { template: { metadata: { annotations: Record<string, string> } } }).template.metadata.annotations['prometheus.io/scheme'], 'https');
  assert.match((find(objs, 'ConfigMap', 'kbs-config')['data'] as Record<string, string>)['KBS_STORAGE'] ?? '', /^postgres:\/\/kbs@/);
  assert.deepEqual(c.env, [{ name: 'PGPASSWORD', valueFrom: { secretKeyRef: { name: 'kbs-postgres', key: 'PGPASSWORD' } } }]);
  assert.equal(find(objs, 'Secret', 'kbs-tls')['type'], 'kubernetes.io/tls');
  assert.deepEqual(spec.volumes.map((v: { name: string }) => v.name).sort(), ['admin-key', 'data', 'tls', 'tmp']);
  assert.deepEqual(find(objs, 'PodDisruptionBudget', 'kbs')['spec'], { minAvailable: 2, selector: { matchLabels: { 'app.kubernetes.io/name': 'kbs' } } });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  assert.ok((find(objs, 'NetworkPolicy', 'kbs') as any).spec.egress.some((e: any) => e.ports.some((p: any) => p.port === 5432)));
});

test('the schema check catches what kubectl --validate=strict would (wrong field, wrong type, missing handler)', async () => {
  const ok = { apiVersion: 'node.k8s.io/v1', kind: 'RuntimeClass', metadata: { name: 'x' }, handler: 'kata-cc' };
  assert.deepEqual(await schemaErrors(ok), []);
  assert.match((await schemaErrors({ ...ok, scheduling: { nodeSelectors: { a: 'b' } } })).join(), /nodeSelectors: unknown field/);
  assert.match((await schemaErrors({ ...ok, overhead: { podFixed: { memory: ['1Gi'] } } })).join(), /memory/);
  assert.match((await schemaErrors({ apiVersion: 'node.k8s.io/v1', kind: 'RuntimeClass', metadata: { name: 'x' } })).join(), /handler/);
  assert.match((await schemaErrors({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { runtimeClass: 'kata-cc', containers: [{ name: 'c', image: 'i' }] } })).join(), /runtimeClass: unknown field/);
  assert.match((await schemaErrors({ apiVersion: 'v9', kind: 'Nope', metadata: { name: 'n' } })).join(), /not a Kubernetes API kind/);
});

test('the payload configurations (build-payload.mjs) load with the shim\'s own config parser, one per TEE', () => {
  // A sample guest manifest (kata-cc-build-guest's shape) so the command line is substituted.
  const guest = path.join(work.dir, 'guest');
  mkdirSync(guest, { recursive: true });
  for (const f of ['vmlinux', 'initrd.img', 'rootfs.img']) writeFileSync(path.join(guest, f), 'sample');
  writeFileSync(path.join(guest, 'manifest.json'), JSON.stringify({ rootHash: 'ab'.repeat(32), cmdline: 'rootfstype=erofs kata-cc.verity=abab' }));
  const out = path.join(work.dir, 'payload');
  execFileSync(process.execPath, [path.join(deploy, 'images/build-payload.mjs'), '--out', out, '--link', '--guest', guest, '--prefix', '/opt/kata-cc'], { stdio: 'pipe' });
  const profiles: Record<string, string> = { tdx: 'tdx', snp: 'snp', se: 'se', dev: 'none' };
  for (const [file, profile] of Object.entries(profiles)) {
    const cfg = loadConfigFile(path.join(out, `share/defaults/kata-cc/configuration-${file}.toml`));
    assert.equal(cfg.hypervisor.type, 'qemu');
    assert.equal(cfg.hypervisor.profile, profile);
    assert.ok(cfg.hypervisor.enableAnnotations.includes('cc_init_data'), 'initdata annotations are accepted');
    if (cfg.hypervisor.type === 'qemu') {
      assert.equal(cfg.hypervisor.kernel, '/opt/kata-cc/share/kata-cc/vmlinux');
      assert.deepEqual(cfg.hypervisor.kernelParams, ['rootfstype=erofs', 'kata-cc.verity=abab']);
    }
  }
  assert.equal(readFileSync(path.join(out, 'share/kata-cc/manifest.json'), 'utf8').includes('kata-cc.verity'), true);
});

test('deploy/kbs/postgres: a schema-valid StatefulSet fed by the production overlay\'s kbs-postgres Secret, reachable only from the KBS', async () => {
  const objs = kustomizeBuild(path.join(deploy, 'kbs/postgres'));
  await assertValid(objs);
  const sts = find(objs, 'StatefulSet', 'kbs-postgres');
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const env = podSpec(sts).containers[0].env as any[];
  const ref = env.find((e) => e.name === 'POSTGRES_PASSWORD').valueFrom.secretKeyRef;
  const secret = find(kustomizeBuild(path.join(kbsDir, 'overlays/production')), 'Secret', ref.name);
  assert.ok((secret['data'] as Record<string, string>)[ref.key], 'the production overlay provides that Secret key');
  assert.equal(podSpec(sts).securityContext.runAsNonRoot, true, 'runs under the namespace\'s restricted Pod Security profile');
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const np = find(objs, 'NetworkPolicy', 'kbs-postgres') as any;
  assert.deepEqual(np.spec.ingress[0].from, [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'kbs' } } }]);
  assert.equal(find(objs, 'Service', 'kbs-postgres').metadata.namespace, 'kata-cc-kbs');
});
