import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { parseAaConfig } from '@kata-cc/attestation-agent';
import { parseCdhConfig } from '@kata-cc/cdh';
import { decodeInitdata, INITDATA_ANNOTATION } from '@kata-cc/hypervisor';
import { busyboxImage, freePort, pushImage, repoRoot, requireTool, startPostgres, startRegistry, tempDir, type TestPostgres, type TestRegistry } from '@kata-cc/testing';
import { kustomizeBuild, parseYamlDocs, type KObject } from './deploy-kustomize.js';
import { runContainer, type SimulatedPod } from './deploy-pod-sim.js';
import { schemaErrors } from './deploy-schema.js';

// The operator's guide (deploy/README.md) step by step where it runs without a cluster: its
// openssl commands, the KBS as the dev and production overlays configure it (the real kbs
// binary with the rendered flags, files and variables; production on a real PostgreSQL with
// TLS), kbs-cli uploading the image key and deploy/examples/resource-policy.rego, and the
// initdata annotation decoded and parsed by the real shim, attestation agent and CDH code.
const run = promisify(execFile);
const deploy = path.join(repoRoot(), 'deploy');
const KBS = [process.execPath, path.join(repoRoot(), 'kbs/server/bin/kbs.js')];
let work: { dir: string; cleanup: () => Promise<void> };
let pg: TestPostgres | undefined;
let reg: TestRegistry | undefined;
const pods: SimulatedPod[] = [];
let kbsDir: string;
let adminKey: string;
let tlsCrt: string;

const sh = (cmd: string, env: Record<string, string> = {}): string => execFileSync('bash', ['-euc', cmd], { cwd: work.dir, env: { ...process.env, ...env }, encoding: 'utf8' });

/** The lines of the README's shell block that contains `marker`, from that line up to `until`. */
function guideLines(marker: string, until?: string): string {
  const readme = readFileSync(path.join(deploy, 'README.md'), 'utf8');
  const block = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] ?? '').find((b) => b.includes(marker));
  if (block === undefined) throw new Error(`deploy/README.md has no shell block with "${marker}"`);
  const from = block.slice(block.indexOf(marker));
  return until === undefined ? from.split('\n')[0] ?? '' : from.slice(0, from.indexOf(until));
}

before(async () => {
  requireTool('openssl');
  work = await tempDir('kcc-deploy-guide-');
  kbsDir = path.join(work.dir, 'deploy/kbs');
  cpSync(path.join(deploy, 'kbs'), kbsDir, { recursive: true });
  cpSync(path.join(deploy, 'runtime'), path.join(work.dir, 'deploy/runtime'), { recursive: true });
  // Section 3 and 4 of the guide, run verbatim from deploy/README.md (KBS_IP is the Service
  // address, 127.0.0.1 here; PGHOST the database server).
  const env = { KBS_IP: '127.0.0.1', PGPASSWORD: 'guide-test', PGHOST: 'kbs-db.example.internal', ACR_NAME: 'katacc123' };
  sh(guideLines('sed -i "s|newName: .*|newName: $ACR_NAME.azurecr.io/kata-cc-installer|"'), env);
  sh(guideLines('openssl genpkey -algorithm ed25519 -out kbs-admin.key'), env);
  sh(guideLines('openssl pkey -in kbs-admin.key -pubout -out deploy/kbs/overlays/dev/admin.pub', 'kubectl apply'), env);
  sh(guideLines('cd deploy/kbs/overlays/production', 'kubectl apply'), env);
  adminKey = path.join(work.dir, 'kbs-admin.key');
  tlsCrt = path.join(kbsDir, 'overlays/production/tls.crt');
  sh(guideLines('head -c 32 /dev/urandom > image.key'));
});

test('guide §3/§4: its sed lines point the overlays at the registry and the database', () => {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const image = (objs: KObject[], kind: string): string => (objs.find((o) => o.kind === kind) as any).spec.template.spec.containers[0].image;
  assert.equal(image(kustomizeBuild(path.join(work.dir, 'deploy/runtime/overlays/aks')), 'DaemonSet'), 'katacc123.azurecr.io/kata-cc-installer:0.1.0');
  assert.equal(image(kustomizeBuild(path.join(kbsDir, 'overlays/dev')), 'Deployment'), 'katacc123.azurecr.io/kata-cc-kbs:0.1.0');
  const prod = kustomizeBuild(path.join(kbsDir, 'overlays/production'));
  assert.equal(image(prod, 'Deployment'), 'katacc123.azurecr.io/kata-cc-kbs:0.1.0');
  assert.equal((prod.find((o) => o.kind === 'ConfigMap')?.['data'] as Record<string, string>)['KBS_STORAGE'], 'postgres://kbs@kbs-db.example.internal:5432/kbs?sslmode=require');
  assert.match(execFileSync(requireTool('openssl'), ['x509', '-in', tlsCrt, '-noout', '-ext', 'subjectAltName'], { encoding: 'utf8' }), /IP Address:127\.0\.0\.1/);
});

after(async () => {
  for (const p of pods) await p.stop();
  await pg?.stop();
  await reg?.stop();
  await work.cleanup();
});

function get(url: string, ca?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { ...(ca ? { ca } : {}) }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function waitHealthy(pod: SimulatedPod, url: string, ca?: string): Promise<void> {
  for (let i = 0; i < 150; i++) {
    if (pod.proc.exitCode !== null) throw new Error(`kbs exited ${pod.proc.exitCode}: ${pod.output()}`);
    const r = await (ca ? get(url, ca) : fetch(url).then(async (x) => ({ status: x.status, body: await x.text() }))).catch(() => null);
    if (r?.status === 200) return;
    await sleep(100);
  }
  throw new Error(`kbs did not become healthy at ${url}: ${pod.output()}`);
}

test('guide §5: skopeo + kbs-cli encrypt-image as written (a local registry in place of ACR) push an image whose layers are encrypted for kbs:///default/image-key/demo', { timeout: 120_000 }, async () => {
  requireTool('skopeo');
  requireTool('jq');
  reg = await startRegistry();
  await pushImage(reg, 'library/busybox', '1.36', await busyboxImage());
  const step = guideLines('skopeo copy docker://docker.io/library/busybox:1.36', 'kbs set-resource')
    // Only where the guide talks to Docker Hub and ACR: the local plain-HTTP registry instead.
    .replace('skopeo copy docker://docker.io/', `skopeo copy --src-tls-verify=false docker://${reg.host}/`)
    .replace(/\$\(az acr login [^)]*\)/, 'token-of-az-acr-login')
    .replaceAll('docker://$ACR_NAME.azurecr.io/', `docker://${reg.host}/`)
    .replace('--kid ', '--insecure --kid ')
    .replace('skopeo inspect --raw', 'skopeo inspect --tls-verify=false --raw')
    .replace('npx kbs-cli', `${process.execPath} ${path.join(repoRoot(), 'kbs/cli/bin/kbs-cli.js')}`);
  const out = sh(step, { ACR_NAME: 'katacc123' });
  assert.deepEqual(out.trim().split('\n').filter((l) => l.startsWith('"')), ['"application/vnd.oci.image.layer.v1.tar+gzip+encrypted"']);
  const manifest = JSON.parse(execFileSync('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${reg.host}/demo/busybox-encrypted:1`], { encoding: 'utf8' })) as { layers: Array<{ annotations: Record<string, string> }> };
  const wrapped = JSON.parse(Buffer.from(manifest.layers[0]?.annotations['org.opencontainers.image.enc.keys.provider.attestation-agent'] ?? '', 'base64').toString()) as { kid: string; wrap_type: string };
  assert.deepEqual({ kid: wrapped.kid, wrap: wrapped.wrap_type }, { kid: 'kbs:///default/image-key/demo', wrap: 'A256GCM' });
  assert.ok(!out.includes(readFileSync(path.join(work.dir, 'image.key')).toString('base64')), 'the key never appears in the output');
});

const kbsCli = (url: string, ...args: string[]): Promise<{ stdout: string; stderr: string }> =>
  run(process.execPath, [path.join(repoRoot(), 'kbs/cli/bin/kbs-cli.js'), '--url', url, '--admin-key', adminKey, ...args], { cwd: work.dir });

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const container = (objs: KObject[]): any => (objs.find((o) => o.kind === 'Deployment') as any).spec.template.spec.containers[0];

test('guide §6: make-initdata.sh output decodes as the shim does and configures the real AA and CDH (HTTP and HTTPS)', async () => {
  const script = path.join(deploy, 'examples/make-initdata.sh');
  for (const [url, cert] of [['http://10.0.0.10:8080', undefined], ['https://10.0.0.10:8080', tlsCrt]] as const) {
    const annotation = execFileSync(script, ['--annotation', url, ...(cert ? [cert] : [])], { encoding: 'utf8' }).trim();
    const initdata = decodeInitdata(annotation);
    assert.equal(initdata.algorithm, 'sha384');
    assert.equal(initdata.digest.length, 48);
    assert.equal(initdata.toml.toString(), execFileSync(script, [url, ...(cert ? [cert] : [])], { encoding: 'utf8' }), 'the annotation is exactly the printed TOML');
    const aa = parseAaConfig(initdata.data['aa.toml'] ?? '');
    const cdh = parseCdhConfig(initdata.data['cdh.toml'] ?? '');
    assert.equal(aa.kbs?.url, url);
    assert.equal(cdh.kbc.url, url);
    assert.equal(cdh.kbc.name, 'cc_kbc');
    if (cert) {
      assert.equal(aa.kbs?.cert?.trim(), readFileSync(cert, 'utf8').trim());
      assert.equal(cdh.kbc.kbsCert?.trim(), readFileSync(cert, 'utf8').trim());
    }
    assert.equal(execFileSync(script, ['--annotation', url, ...(cert ? [cert] : [])], { encoding: 'utf8' }).trim(), annotation, 'deterministic (gzip -n): same pod, same measurement');
  }
  assert.throws(() => execFileSync(script, ['kbs:8080'], { stdio: 'pipe' }), /must start with http/);
  // The pod as the guide writes it.
  const INITDATA = execFileSync(script, ['--annotation', 'http://10.0.0.10:8080'], { encoding: 'utf8' }).trim();
  const rendered = sh(`sed -e "s|@INITDATA@|$INITDATA|" -e "s|myregistry.azurecr.io|$ACR_NAME.azurecr.io|" ${path.join(deploy, 'examples/pod.yaml')}`, { INITDATA, ACR_NAME: 'katacc123' });
  writeFileSync(path.join(work.dir, 'confidential-demo.yaml'), rendered);
  const pod = parseYamlDocs(path.join(work.dir, 'confidential-demo.yaml'))[0] as KObject;
  assert.deepEqual(await schemaErrors(pod), []);
  assert.equal((pod['spec'] as { runtimeClassName: string }).runtimeClassName, 'kata-cc');
  assert.equal(decodeInitdata(pod.metadata.annotations?.[INITDATA_ANNOTATION] ?? '').data['aa.toml']?.includes('http://10.0.0.10:8080'), true);
});

test('guide §4a/§5: the dev overlay starts the real KBS; kbs-cli uploads the image key and resource-policy.rego, which refuses sample evidence', async () => {
  const objs = kustomizeBuild(path.join(kbsDir, 'overlays/dev'));
  const port = await freePort();
  const pod = runContainer(objs, 'kbs', path.join(work.dir, 'dev-pod'), KBS, { listen: `127.0.0.1:${port}` });
  pods.push(pod);
  assert.ok(pod.args.some((a) => a.startsWith('--storage=sqlite:') && a.endsWith('/mounts/data/kbs.db')), pod.args.join(' '));
  const probe = container(objs).readinessProbe.httpGet;
  await waitHealthy(pod, `${probe.scheme.toLowerCase()}://127.0.0.1:${port}${probe.path}`);
  const url = `http://127.0.0.1:${port}`;
  await kbsCli(url, 'set-resource', '--path', 'default/image-key/demo', '--file', 'image.key');
  await kbsCli(url, 'set-resource-policy', '--file', path.join(deploy, 'examples/resource-policy.rego'));
  assert.match((await kbsCli(url, 'get-resource-policy')).stdout, /ear\.status/);
  await assert.rejects(kbsCli(url, 'get-resource', '--path', 'default/image-key/demo'), /PolicyDeny|policy denies/i);
  await kbsCli(url, 'set-resource-policy', '--allow-all');
  const got = await kbsCli(url, 'get-resource', '--path', 'default/image-key/demo', '--base64');
  assert.equal(got.stdout.trim(), readFileSync(path.join(work.dir, 'image.key')).toString('base64'));
  // §7's check: the metrics show the attestation and the resource request.
  const metrics = (await (await fetch(`${url}/metrics`)).text()).split('\n').filter((l) => /^kbs_attestations_total|endpoint="resource"/.test(l));
  assert.ok(metrics.some((l) => l.startsWith('kbs_attestations_total')), metrics.join('\n'));
  assert.ok(metrics.some((l) => l.includes('endpoint="resource",status="200"')), metrics.join('\n'));
});

test('guide §4b: the production overlay starts the real KBS on PostgreSQL with TLS; probes, scrape and kbs-cli --cacert work; no sample evidence', { timeout: 120_000 }, async () => {
  pg = await startPostgres();
  const dsn = await pg.createDatabase('kbs_guide');
  const objs = kustomizeBuild(path.join(kbsDir, 'overlays/production'));
  const port = await freePort();
  // The guide's sed sets KBS_STORAGE to the database; the password comes from the kbs-postgres Secret.
  const pod = runContainer(objs, 'kbs', path.join(work.dir, 'prod-pod'), KBS, { listen: `127.0.0.1:${port}`, env: { KBS_STORAGE: dsn } });
  pods.push(pod);
  assert.equal(pod.env['PGPASSWORD'], 'guide-test');
  assert.ok(!pod.args.includes('--allow-sample') && !pod.args.includes('--insecure-http'));
  const ca = readFileSync(tlsCrt, 'utf8');
  const c = container(objs);
  await waitHealthy(pod, `${c.readinessProbe.httpGet.scheme.toLowerCase()}://127.0.0.1:${port}${c.readinessProbe.httpGet.path}`, ca);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const ann = (objs.find((o) => o.kind === 'Deployment') as any).spec.template.metadata.annotations;
  assert.match((await get(`${ann['prometheus.io/scheme']}://127.0.0.1:${port}${ann['prometheus.io/path']}`, ca)).body, /kbs_http_requests_total/);
  const url = `https://127.0.0.1:${port}`;
  await kbsCli(url, '--cacert', tlsCrt, 'set-resource', '--path', 'default/image-key/demo', '--file', 'image.key');
  await kbsCli(url, '--cacert', tlsCrt, 'set-resource-policy', '--file', path.join(deploy, 'examples/resource-policy.rego'));
  await assert.rejects(kbsCli(url, '--cacert', tlsCrt, 'get-resource', '--path', 'default/image-key/demo'), (e: Error & { stderr?: string }) => /sample/i.test(String(e.stderr)));
  await assert.rejects(kbsCli(url, 'get-resource-policy'), 'without --cacert the self-signed KBS is not trusted');
  // The resource lives in PostgreSQL, where every replica reads it.
  const rows = execFileSync(requireTool('psql'), [dsn, '-Atc', "select count(*) from information_schema.tables where table_schema = 'public'"], { encoding: 'utf8' });
  assert.ok(Number(rows) > 0);
});
