import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import path from 'node:path';
import { KBS_BIN, requireTool, startKbsProcess, startPostgres, tempDir, type KbsProcess, type TestPostgres } from '@kata-cc/testing';
import { adminKeys, call, getResource, handshake, teeKey } from '../test-client.js';

const admin = adminKeys('ed25519');
let dir = '';
let cleanupDir: () => Promise<void> = async () => {};
let pg: TestPostgres | undefined;
const procs: KbsProcess[] = [];

before(async () => {
  const t = await tempDir('kbs-bin-');
  dir = t.dir;
  cleanupDir = t.cleanup;
  writeFileSync(path.join(dir, 'admin.pub'), admin.publicPem);
  pg = await startPostgres();
});

after(async () => {
  for (const p of procs) await p.stop().catch(() => {});
  await pg?.stop();
  await cleanupDir();
});

async function start(storage: string, extra: string[] = ['--insecure-http', '--allow-sample']): Promise<KbsProcess> {
  const p = await startKbsProcess([...extra, '--storage', storage, '--admin-key', path.join(dir, 'admin.pub')]);
  procs.push(p);
  return p;
}

async function postResource(url: string, p: string, value: string): Promise<void> {
  const r = await call(`${url}/kbs/v0/resource/${p}`, 'POST', new Uint8Array(Buffer.from(value)), { authorization: `Bearer ${await admin.token()}`, 'content-type': 'application/octet-stream' });
  assert.equal(r.status, 200, r.body);
}

async function fetchSecret(url: string, p: string): Promise<string> {
  const key = teeKey();
  const { cookie } = await handshake(url, key);
  return Buffer.from(await getResource(url, p, key, { cookie })).toString();
}

for (const backend of ['sqlite', 'postgres'] as const) {
  test(`${backend}: a resource whose admin POST returned 200 survives kill -9 right after`, async () => {
    const storage = backend === 'sqlite' ? `sqlite:${path.join(dir, 'kbs.db')}` : await pg!.createDatabase('durability');
    const a = await start(storage);
    await postResource(a.url, 'default/key/durable', 'value-1');
    await a.kill9();
    const b = await start(storage);
    assert.equal(await fetchSecret(b.url, 'default/key/durable'), 'value-1');
    await b.stop();
  });
}

test('postgres: two replicas share sessions, tokens and resources (auth on A, attest + resource on B)', async () => {
  const url = await pg!.createDatabase('replicas');
  const [a, b] = await Promise.all([start(url), start(url)]);
  await postResource(a!.url, 'default/key/shared', 'shared-secret');
  const key = teeKey();
  const { cookie, token } = await handshake(b!.url, key, a!.url);
  assert.equal(Buffer.from(await getResource(b!.url, 'default/key/shared', key, { cookie })).toString(), 'shared-secret');
  // A token issued by B verifies on A: the signer key lives in the shared store.
  assert.equal(Buffer.from(await getResource(a!.url, 'default/key/shared', key, { token })).toString(), 'shared-secret');
});

test('HTTPS with --tls-cert/--tls-key, and dev mode says so loudly', async () => {
  const openssl = requireTool('openssl');
  const crt = path.join(dir, 'kbs.crt');
  const key = path.join(dir, 'kbs.key');
  const r = spawnSync(openssl, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', crt, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const p = await start('memory:', ['--tls-cert', crt, '--tls-key', key, '--allow-sample']);
  assert.match(p.url, /^https:/);
  assert.match(p.stderr(), /DEV MODE/);
  const { readFileSync } = await import('node:fs');
  const status = await new Promise<number>((resolve, reject) => {
    const u = new URL(p.url);
    httpsRequest({ host: u.hostname, port: u.port, path: '/healthz', ca: readFileSync(crt) }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', reject).end();
  });
  assert.equal(status, 200);
});

test('a trustee kbs-config.toml is enough to start (--config), and open admin is refused', async () => {
  const cfg = path.join(dir, 'kbs-config.toml');
  writeFileSync(cfg, '[http_server]\nsockets = ["127.0.0.1:0"]\ninsecure_http = true\n[admin]\ninsecure_api = true\n[storage_backend]\nstorage_type = "Memory"\n');
  const p = await startKbsProcess(['--config', cfg], { listen: false });
  procs.push(p);
  assert.equal((await call(`${p.url}/healthz`, 'GET')).status, 200);
  assert.equal((await call(`${p.url}/kbs/v0/resource-policy`, 'GET')).status, 401);
  assert.match(p.stderr(), /not honoured/);
});

test('command line: plain HTTP needs --insecure-http; bad --storage is refused without echoing secrets', () => {
  const noTls = spawnSync(process.execPath, [KBS_BIN, '--listen', '127.0.0.1:0', '--storage', 'memory:'], { encoding: 'utf8' });
  assert.equal(noTls.status, 2);
  assert.match(noTls.stderr, /--insecure-http/);
  const bad = spawnSync(process.execPath, [KBS_BIN, '--listen', '127.0.0.1:0', '--insecure-http', '--storage', 'mysql://u:hunter2@x'], { encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /KBS_STORAGE_SPEC_INVALID/);
  assert.doesNotMatch(bad.stderr, /hunter2/);
});
