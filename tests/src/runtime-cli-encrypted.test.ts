/**
 * `kata-cc run --decryption-key` with an image encrypted for the CoCo key provider: the key goes
 * into the embedded KBS under the layers' `kid`, the guest attests (sample TEE, dev mode) and the
 * CDH decrypts inside the guest. Fault: a KBS that refuses sample evidence makes the run fail
 * with the KBS's reason. Two real guest boots.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createCipheriv, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { decryptJwe, loadPrivateKey } from '@kata-cc/image-rs';
import { buildTar, busyboxImage, freePort, httpRaw, pushManifest, repoRoot, requireTool, startRegistry, writeOciLayout, type TestRegistry } from '@kata-cc/testing';

const repo = repoRoot();
const CLI = path.join(repo, 'runtime/cli/bin/kata-cc.js');
const KID = 'kbs:///default/image-kek/run1';
let dir: string;
let reg: TestRegistry;
let strictKbs: ChildProcess | undefined;
let strictUrl: string;
const kek = randomBytes(32);

function kataCc(args: string[], timeoutMs = 600_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const t = setTimeout(() => { child.kill('SIGINT'); reject(new Error(`kata-cc timed out; stderr:\n${stderr}`)); }, timeoutMs);
    child.on('exit', (code) => { clearTimeout(t); resolve({ code: code ?? -1, stdout, stderr }); });
  });
}

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kcc-run-enc-'));
  reg = await startRegistry();
  const rsa = path.join(dir, 'rsa.pem');
  execFileSync('openssl', ['genrsa', '-out', rsa, '2048'], { stdio: 'ignore' });
  execFileSync('openssl', ['rsa', '-in', rsa, '-pubout', '-out', `${rsa}.pub`], { stdio: 'ignore' });
  const bb = await busyboxImage();
  writeOciLayout(path.join(dir, 'layout'), 'v1', { ...bb, layers: [...bb.layers, { tar: buildTar([{ path: 'secret.txt', data: 'decrypted in the guest\n' }]) }] });
  execFileSync(requireTool('skopeo'), ['copy', '--quiet', '--dest-tls-verify=false', '--encryption-key', `jwe:${rsa}.pub`, `oci:${path.join(dir, 'layout')}:v1`, `docker://${reg.host}/enc/app:v1`]);
  // Re-wrap each layer's private options for the `attestation-agent` key provider under KID.
  const m = JSON.parse((await httpRaw('GET', `${reg.url}/v2/enc/app/manifests/v1`, { accept: 'application/vnd.oci.image.manifest.v1+json' })).body.toString()) as { layers: { annotations: Record<string, string> }[] };
  for (const l of m.layers) {
    const jwe = JSON.parse(Buffer.from(l.annotations['org.opencontainers.image.enc.keys.jwe'] ?? '', 'base64').toString()) as Parameters<typeof decryptJwe>[0];
    const opts = decryptJwe(jwe, [loadPrivateKey(await readFile(rsa))]).plaintext as Buffer;
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', kek, iv);
    const wrapped = Buffer.concat([c.update(opts), c.final(), c.getAuthTag()]);
    delete l.annotations['org.opencontainers.image.enc.keys.jwe'];
    l.annotations['org.opencontainers.image.enc.keys.provider.attestation-agent'] = Buffer.from(JSON.stringify({ kid: KID, wrapped_data: wrapped.toString('base64'), iv: iv.toString('base64'), wrap_type: 'A256GCM' })).toString('base64');
  }
  await pushManifest(reg, 'enc/app', 'kp', Buffer.from(JSON.stringify(m)), 'application/vnd.oci.image.manifest.v1+json');
  await writeFile(path.join(dir, 'kek.bin'), kek, { mode: 0o600 });

  // A production-like KBS: no --allow-sample. It holds the KEK, but must refuse the sample guest.
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  await writeFile(path.join(dir, 'admin.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
  await writeFile(path.join(dir, 'admin.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const port = await freePort();
  strictUrl = `http://127.0.0.1:${port}`;
  strictKbs = spawn(process.execPath, [path.join(repo, 'kbs/server/bin/kbs.js'), '--listen', `127.0.0.1:${port}`, '--insecure-http', '--storage', `sqlite:${path.join(dir, 'kbs.db')}`, '--admin-key', path.join(dir, 'admin.pub')], { stdio: 'ignore' });
  for (let i = 0; i < 200; i++) {
    const up = await new Promise<boolean>((r) => { const s = net.createConnection(port, '127.0.0.1'); s.once('connect', () => { s.destroy(); r(true); }); s.once('error', () => r(false)); });
    if (up) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  execFileSync(process.execPath, [path.join(repo, 'kbs/cli/bin/kbs-cli.js'), '--url', strictUrl, '--admin-key', path.join(dir, 'admin.key'), 'set-resource', '--path', 'default/image-kek/run1', '--file', path.join(dir, 'kek.bin')]);
});

after(async () => {
  strictKbs?.kill('SIGKILL');
  await reg?.stop();
  await rm(dir, { recursive: true, force: true });
});

test('run --decryption-key: the KEK reaches the guest only through the KBS and the layers are decrypted in the guest', async () => {
  const r = await kataCc(['run', '--decryption-key', path.join(dir, 'kek.bin'), '--insecure-registry', reg.host, `${reg.host}/enc/app:kp`, '--', 'cat', '/secret.txt']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'decrypted in the guest\n');
});

test('fault: a KBS that refuses the (sample) evidence fails the run with the KBS\'s reason', async () => {
  const r = await kataCc(['run', '--kbs', strictUrl, '--insecure-registry', reg.host, `${reg.host}/enc/app:kp`, '--', 'cat', '/secret.txt']);
  assert.equal(r.code, 125);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /proves nothing|--allow-sample|VERIFIER_SAMPLE_DISABLED/);
});
