/**
 * Issue 9, end to end through Kubernetes' path: a kubelet stand-in (CRI gRPC client) runs a pod
 * with handler kata-cc on a private containerd 1.6 whose CRI snapshotter is the kata-cc guest-pull
 * snapshotter; the image (built here, with a unique marker) is encrypted by skopeo, signed with
 * gpg simple signing and served by a TLS + basic-auth registry; its layer key, policy.json,
 * public key, lookaside config and registry credentials live in a KBS on PostgreSQL, released
 * only to a guest whose initdata digest matches. The guest (QEMU, TCG, sample TEE) attests,
 * pulls, verifies, decrypts and runs it. Then the proofs that the host learned nothing.
 *
 * One containerd, one KBS, one PostgreSQL, one registry for the file; pods boot their own VM.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { decryptJwe, loadPrivateKey } from '@kata-cc/image-rs';
import {
  buildTar, busyboxImage, criClient, httpRaw, pushImage, pushManifest, repoRoot, requireTool, shimDirFor, startPostgres, tempDir, writeOciLayout,
  type CriClient, type TestPostgres,
} from '@kata-cc/testing';
import {
  GUEST_HOST, SNAPSHOTTER_BIN, findBytes, gpgKey, makeCa, pidsMatching, serveDir, signInto, startE2eContainerd, startE2eKbs, startProc, startTlsRegistry, waitFor,
  type E2eContainerd, type E2eKbs, type Proc,
} from './e2e-harness.js';

const repo = repoRoot();
/** Printed by the container (so it reaches the pod log, the tenant's chosen output). */
const MARKER = `kcc-e2e-marker-${randomBytes(8).toString('hex')}`;
/** Only in a file of the encrypted layer, never printed: must appear nowhere on the host. */
const SECRET = `kcc-e2e-secret-${randomBytes(8).toString('hex')}`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let tmp: { dir: string; cleanup: () => Promise<void> };
let pg: TestPostgres;
let kbs: E2eKbs;
let reg: Awaited<ReturnType<typeof startTlsRegistry>>;
let lookaside: Awaited<ReturnType<typeof serveDir>>;
let snap: Proc;
let ctd: E2eContainerd;
let cri: CriClient;
let shimDir: { dir: string; cleanup: () => Promise<void> };
let stateDir: string;
let guestReg: string;
let caPem: string;
const timings: Record<string, number> = {};

const POLICY_REGO = (extra = ''): string => `package agent_policy

default AllowRequestsFailingPolicy := false
default CreateSandboxRequest := true
default DestroySandboxRequest := true
default CreateContainerRequest := true
default StartContainerRequest := true
default RemoveContainerRequest := true
default WaitProcessRequest := true
default SignalProcessRequest := true
default ReadStreamRequest := true
default WriteStreamRequest := true
default CloseStdinRequest := true
default GuestDetailsRequest := true
default GetOOMEventRequest := true
default UpdateContainerRequest := true
default TtyWinResizeRequest := true
default UpdateInterfaceRequest := true
default UpdateRoutesRequest := true
default ListInterfacesRequest := true
default ListRoutesRequest := true
default OnlineCPUMemRequest := true
default CopyFileRequest := true
default AddARPNeighborsRequest := true
default UpdateEphemeralMountsRequest := true
default GetMetricsRequest := true
default MemHotplugByProbeRequest := true
default SetGuestDateTimeRequest := true
default GetIPTablesRequest := true
default SetIPTablesRequest := true
default PauseContainerRequest := true
default ResumeContainerRequest := true
default StatsContainerRequest := true
default SetPolicyRequest := false
default ExecProcessRequest := false

# Only "/bin/true" may be exec'd (ExecSync of anything else is refused in the guest).
ExecProcessRequest {
  input.process.Args == ["/bin/true"]
}
${extra}`;

function initdata(kbsPort: number, policyExtra = ''): string {
  const kbsUrl = `https://${GUEST_HOST}:${kbsPort}`;
  return `version = "0.1.0"
algorithm = "sha384"
[data]
"aa.toml" = '''
[token_configs.kbs]
url = "${kbsUrl}"
cert = """
${caPem.trim()}
"""
'''
"cdh.toml" = '''
[kbc]
name = "cc_kbc"
url = "${kbsUrl}"
kbs_cert = """
${caPem.trim()}
"""
[image]
image_security_policy_uri = "kbs:///default/security-policy/e2e"
sigstore_config_uri = "kbs:///default/sigstore-config/e2e"
authenticated_registry_credentials_uri = "kbs:///default/credential/e2e"
extra_root_certificates = ["""
${caPem.trim()}
"""]
'''
"policy.rego" = '''
${POLICY_REGO(policyExtra)}'''
`;
}

const sha384hex = (s: string): string => createHash('sha384').update(s).digest('hex');

/** The layer keys skopeo wrapped for RSA (JWE), re-wrapped as coco-keyprovider does: A256GCM under a KEK the KBS holds. */
async function rewrap(repoName: string, fromTag: string, toTag: string, kid: string, rsaKey: string, kek: Buffer): Promise<Buffer> {
  const auth = { authorization: `Basic ${Buffer.from(`${reg.user}:${reg.password}`).toString('base64')}` };
  const m = await httpRaw('GET', `${reg.url}/v2/${repoName}/manifests/${fromTag}`, { accept: 'application/vnd.oci.image.manifest.v1+json', ...auth }, undefined, reg.caPem);
  assert.equal(m.status, 200, m.body.toString());
  const manifest = JSON.parse(m.body.toString()) as { layers: { annotations?: Record<string, string> }[] };
  for (const l of manifest.layers) {
    const a = l.annotations ?? {};
    const jwe = a['org.opencontainers.image.enc.keys.jwe'];
    if (jwe === undefined) continue;
    const opts = decryptJwe(JSON.parse(Buffer.from(jwe, 'base64').toString()) as Parameters<typeof decryptJwe>[0], [loadPrivateKey(await readFile(rsaKey))]).plaintext as Buffer;
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', kek, iv);
    delete a['org.opencontainers.image.enc.keys.jwe'];
    a['org.opencontainers.image.enc.keys.provider.attestation-agent'] = Buffer.from(JSON.stringify({ kid, wrapped_data: Buffer.concat([c.update(opts), c.final(), c.getAuthTag()]).toString('base64'), iv: iv.toString('base64'), wrap_type: 'A256GCM' })).toString('base64');
  }
  const bytes = Buffer.from(JSON.stringify(manifest));
  await pushManifest(reg, repoName, toTag, bytes, 'application/vnd.oci.image.manifest.v1+json');
  return bytes;
}

const kataConfig = (g: { kernel: string; initrd: string; rootfs: string; cmdline: string }): string => `[hypervisor.qemu]
tee = "none"
accel = "tcg"
kernel = ${JSON.stringify(g.kernel)}
initrd = ${JSON.stringify(g.initrd)}
image = ${JSON.stringify(g.rootfs)}
rootfs_type = "erofs"
default_memory = 1024
kernel_params = ${JSON.stringify(`${g.cmdline} lpj=9780000 kata_cc.aa_allow_sample=1`)}
agent_channel = "virtio-serial"
network = "user"
[agent.kata]
dial_timeout = 240
[runtime]
create_container_timeout = 300
state_dir = ${JSON.stringify(stateDir)}
`;

before(async () => {
  const t0 = Date.now();
  requireTool('qemu-system-x86_64');
  const skopeo = requireTool('skopeo');
  tmp = await tempDir('kcc-e2e-');
  stateDir = path.join(tmp.dir, 'state');
  const ca = makeCa(tmp.dir);
  caPem = readFileSync(ca.caFile, 'utf8');
  const g = JSON.parse(execFileSync(process.execPath, [path.join(repo, 'guest-components/image-builder/bin/kata-cc-build-guest.js'), '--json'], { encoding: 'utf8', timeout: 900_000 })) as { kernel: string; initrd: string; rootfs: string; cmdline: string };

  pg = await startPostgres();
  kbs = await startE2eKbs(tmp.dir, ca, pg, 'kbs_e2e');
  reg = await startTlsRegistry(path.join(tmp.dir, 'registry'), ca);
  guestReg = `${GUEST_HOST}:${reg.port}`;
  const sigDir = path.join(tmp.dir, 'lookaside');
  lookaside = await serveDir(sigDir);
  timings['peers'] = Date.now() - t0;

  // The image: busybox + a layer with the marker (printed) and the secret (never printed).
  const bb = await busyboxImage(['/bin/sh', '-c', 'cat /marker.txt; sleep 600']);
  const layout = path.join(tmp.dir, 'layout');
  writeOciLayout(layout, 'v1', { ...bb, layers: [...bb.layers, { tar: buildTar([{ path: 'marker.txt', data: `${MARKER}\n` }, { path: 'secret.txt', data: `${SECRET}\n` }]) }] });
  const rsa = path.join(tmp.dir, 'rsa.pem');
  execFileSync('openssl', ['genrsa', '-out', rsa, '2048'], { stdio: 'ignore' });
  execFileSync('openssl', ['rsa', '-in', rsa, '-pubout', '-out', `${rsa}.pub`], { stdio: 'ignore' });
  const certDir = path.join(tmp.dir, 'skopeo-certs');
  execFileSync('mkdir', ['-p', certDir]);
  writeFileSync(path.join(certDir, 'ca.crt'), caPem);
  const creds = `${reg.user}:${reg.password}`;
  execFileSync(skopeo, ['copy', '--quiet', '--dest-cert-dir', certDir, '--dest-creds', creds, '--encryption-key', `jwe:${rsa}.pub`, `oci:${layout}:v1`, `docker://${reg.host}/e2e/app:jwe`]);
  rmSync(layout, { recursive: true, force: true }); // the plaintext build input leaves the host
  const kek = randomBytes(32);
  const signed = await rewrap('e2e/app', 'jwe', 'v1', 'kbs:///default/image-kek/e2e', rsa, kek);
  const unsigned = await rewrap('e2e/app', 'jwe', 'unsigned', 'kbs:///default/image-kek/e2e', rsa, kek);
  // Simple signing with our key for the v1 name; a stranger's key for the "badsig" name.
  const good = gpgKey(path.join(tmp.dir, 'gpg-good'), 'e2e signer <e2e@kata-cc.test>');
  const bad = gpgKey(path.join(tmp.dir, 'gpg-bad'), 'stranger <x@evil.test>');
  const hex = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
  signInto(sigDir, path.join(tmp.dir, 'gpg-good'), good.fingerprint, signed, `${guestReg}/e2e/app:v1`, 'e2e/app', hex(signed));
  // The same manifest bytes under e2e/bad (blobs cross-mounted), signed by a stranger's key.
  const auth = { authorization: `Basic ${Buffer.from(creds).toString('base64')}` };
  const sm = JSON.parse(signed.toString()) as { config: { digest: string }; layers: { digest: string }[] };
  for (const d of [sm.config.digest, ...sm.layers.map((l) => l.digest)]) {
    const r = await httpRaw('POST', `${reg.url}/v2/e2e/bad/blobs/uploads/?mount=${d}&from=e2e/app`, auth, undefined, reg.caPem);
    assert.equal(r.status, 201, `cross-mount ${d}: ${r.status}`);
  }
  await pushManifest(reg, 'e2e/bad', 'v1', signed, 'application/vnd.oci.image.manifest.v1+json');
  signInto(sigDir, path.join(tmp.dir, 'gpg-bad'), bad.fingerprint, signed, `${guestReg}/e2e/bad:v1`, 'e2e/bad', hex(signed));
  void unsigned;
  await pushImage(reg, 'e2e/pause', '1', await busyboxImage(['sleep', '2147483647']));

  // The KBS: key, signature policy, public key, lookaside config, registry credentials, resource policy.
  const put = async (p: string, data: Buffer | string): Promise<void> => {
    const f = path.join(tmp.dir, `res-${p.replace(/\//g, '_')}`);
    writeFileSync(f, data);
    const r = await kbs.cli(['set-resource', '--path', p, '--file', f]);
    assert.equal(r.code, 0, r.stderr);
    rmSync(f);
  };
  await put('default/image-kek/e2e', kek);
  await put('default/security-policy/e2e', JSON.stringify({
    default: [{ type: 'reject' }],
    transports: { docker: { [`${guestReg}/e2e`]: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: 'kbs:///default/gpg-public-config/e2e' }] } },
  }));
  await put('default/gpg-public-config/e2e', good.publicKey);
  await put('default/sigstore-config/e2e', `docker:\n  ${guestReg}:\n    lookaside: http://${GUEST_HOST}:${lookaside.port}\n`);
  await put('default/credential/e2e', JSON.stringify({ auths: { [guestReg]: { auth: Buffer.from(creds).toString('base64') } } }));
  const rp = path.join(tmp.dir, 'resource-policy.rego');
  writeFileSync(rp, `package policy\nimport rego.v1\ndefault allow := false\nallow if {\n\tinput.submods.cpu0["ear.veraison.annotated-evidence"].init_data == "${sha384hex(initdata(kbs.port))}"\n}\n`);
  const srp = await kbs.cli(['set-resource-policy', '--policy-file', rp]);
  assert.equal(srp.code, 0, srp.stderr);
  timings['image+kbs'] = Date.now() - t0 - (timings['peers'] ?? 0);

  // The guest-pull snapshotter and containerd 1.6 with CRI on it.
  const snapSock = path.join(tmp.dir, 'snap', 'snapshotter.sock');
  snap = startProc(process.execPath, [SNAPSHOTTER_BIN, '--root', path.join(tmp.dir, 'snap', 'root'), '--address', snapSock, '--log-level', 'debug']);
  await waitFor('snapshotter', () => /listening on/.test(snap.output()) || snap.child.exitCode !== null);
  assert.equal(snap.child.exitCode, null, snap.output());
  const cfg = path.join(tmp.dir, 'kata-cc.toml');
  writeFileSync(cfg, kataConfig(g));
  shimDir = await shimDirFor(repo);
  ctd = await startE2eContainerd({
    shimDir: shimDir.dir, kataConfigPath: cfg, sandboxImage: `${guestReg}/e2e/pause:1`, snapshotterSocket: snapSock,
    registry: { name: guestReg, endpoint: reg.host, caFile: ca.caFile, user: reg.user ?? '', password: reg.password ?? '' },
  });
  cri = criClient(ctd.socket);
  timings['before'] = Date.now() - t0;
});

after(async () => {
  cri?.close();
  for (const p of pidsMatching([ctd?.socket ?? '', stateDir ?? ''])) {
    try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
  }
  await ctd?.stop();
  await snap?.stop();
  await kbs?.stop();
  await lookaside?.close();
  await reg?.stop();
  await pg?.stop();
  await shimDir?.cleanup();
  await tmp?.cleanup();
  process.stderr.write(`e2e timings (ms): ${JSON.stringify(timings)}\n`);
});

interface Pod { id: string; cfg: Record<string, unknown>; logDir: string }

async function runPod(name: string, initdataToml: string): Promise<Pod> {
  const logDir = path.join(tmp.dir, 'logs', name);
  const cfg = {
    metadata: { name, uid: `uid-${name}-${Date.now()}`, namespace: 'default', attempt: 0 },
    log_directory: logDir,
    annotations: { 'io.katacontainers.config.hypervisor.cc_init_data': gzipSync(Buffer.from(initdataToml)).toString('base64') },
    linux: { security_context: { namespace_options: { network: 2, pid: 0, ipc: 0 } } },
  };
  const { pod_sandbox_id: id } = (await cri.call('RunPodSandbox', { config: cfg, runtime_handler: 'kata-cc' }, 300_000)) as { pod_sandbox_id: string };
  return { id, cfg, logDir };
}

/** PullImage, CreateContainer and StartContainer (the guest pulls at task creation); a failed start removes the container. */
async function startApp(pod: Pod, image: string, name = 'app'): Promise<string> {
  await cri.call('PullImage', { image: { image } }, 120_000);
  const c = (await cri.call('CreateContainer', { pod_sandbox_id: pod.id, sandbox_config: pod.cfg, config: { metadata: { name, attempt: 0 }, image: { image }, log_path: `${name}.log` } }, 120_000)) as { container_id: string };
  try {
    await cri.call('StartContainer', { container_id: c.container_id }, 600_000);
  } catch (e) {
    await cri.call('RemoveContainer', { container_id: c.container_id }, 60_000).catch(() => undefined);
    throw e;
  }
  return c.container_id;
}

async function removePod(pod: Pod): Promise<void> {
  await cri.call('StopPodSandbox', { pod_sandbox_id: pod.id }, 120_000);
  await cri.call('RemovePodSandbox', { pod_sandbox_id: pod.id }, 120_000);
}

let happy: Pod | undefined;
let appId = '';

test('happy path: CRI pulls an encrypted, signed image through the guest-pull snapshotter; the attested guest decrypts it; the pod log shows the marker', async () => {
  const t0 = Date.now();
  happy = await runPod('e2e-happy', initdata(kbs.port));
  timings['RunPodSandbox'] = Date.now() - t0;
  const t1 = Date.now();
  appId = await startApp(happy, `${guestReg}/e2e/app:v1`);
  timings['Pull+Create+Start (guest attests, pulls, decrypts)'] = Date.now() - t1;
  const log = path.join(happy.logDir, 'app.log');
  await waitFor('marker in the pod log', () => existsSync(log) && readFileSync(log, 'utf8').includes(MARKER), 120_000);
  assert.match(readFileSync(log, 'utf8'), new RegExp(`stdout F ${MARKER}`));
  timings['happy total'] = Date.now() - t0;
  const st = (await cri.call('ContainerStatus', { container_id: appId })) as { status: { state: number; image_ref: string } };
  assert.equal(st.status.state, 1, 'RUNNING');
  // The signature was fetched from the lookaside store by the guest.
  assert.ok(lookaside.requests.some((r) => r.startsWith('/e2e/app@sha256=')), `lookaside requests: ${lookaside.requests.join(', ')}`);
  assert.match(kbs.proc.output(), /resource released/);
});

test('the host content store holds no layer blob (manifest and config only); the snapshotter recorded the layers as guest-pulled', async () => {
  assert.ok(happy, 'needs the happy path');
  const blobs = readdirSync(path.join(ctd.dir, 'root', 'io.containerd.content.v1.content', 'blobs', 'sha256'));
  const auth = { authorization: `Basic ${Buffer.from(`${reg.user}:${reg.password}`).toString('base64')}` };
  const m = JSON.parse((await httpRaw('GET', `${reg.url}/v2/e2e/app/manifests/v1`, { accept: 'application/vnd.oci.image.manifest.v1+json', ...auth }, undefined, reg.caPem)).body.toString()) as { config: { digest: string }; layers: { digest: string }[] };
  for (const l of m.layers) assert.ok(!blobs.includes(l.digest.slice(7)), `layer ${l.digest} is not on the host`);
  assert.ok(blobs.includes(m.config.digest.slice(7)), 'the config is (containerd needs the diff ids)');
  assert.match(snap.output(), /snapshot call refused.*SNAP_TARGET_EXISTS|SNAP_TARGET_EXISTS/);
});

test('the host sees no plaintext: the secret nowhere, the marker nowhere but the pod log (containerd root/state, shim and QEMU files, snapshotter, KBS database, temp dirs)', async () => {
  assert.ok(happy, 'needs the happy path');
  const roots = [ctd.dir, stateDir, path.join(tmp.dir, 'snap'), path.join(tmp.dir, 'registry'), '/run/containerd', '/tmp', '/var/tmp'];
  // PostgreSQL's files are under /tmp (the test server) and are searched with it.
  const secretHits = findBytes(roots, Buffer.from(SECRET));
  assert.deepEqual(secretHits, [], 'the never-printed secret is on no host file');
  const markerHits = findBytes(roots, Buffer.from(MARKER)).filter((f) => !f.startsWith(`${path.join(tmp.dir, 'logs')}/`));
  assert.deepEqual(markerHits, [], 'the marker is only in the pod log the tenant wrote to');
  assert.ok(!(await ctd.log()).includes(MARKER));
  assert.ok(!kbs.proc.output().includes(SECRET) && !snap.output().includes(MARKER));
});

test('agent policy: ExecSync of a command the policy does not allow is refused; an allowed one runs', async () => {
  assert.ok(happy, 'needs the happy path');
  const ok = (await cri.call('ExecSync', { container_id: appId, cmd: ['/bin/true'], timeout: 60 })) as { exit_code: number };
  assert.equal(ok.exit_code, 0);
  await assert.rejects(cri.call('ExecSync', { container_id: appId, cmd: ['/bin/cat', '/secret.txt'], timeout: 60 }), (e: Error) => {
    assert.match(e.message, /ExecProcess is blocked by policy|AGENT_POLICY_DENIED/);
    assert.ok(!e.message.includes(SECRET));
    return true;
  });
});

test('a guest with different initdata (another agent policy) is refused the key: CreateContainer fails with the KBS policy reason, no marker', async () => {
  const pod = await runPod('e2e-wrong-initdata', initdata(kbs.port, '# another policy\n'));
  try {
    await assert.rejects(startApp(pod, `${guestReg}/e2e/app:v1`), (e: Error) => {
      assert.match(e.message, /resource policy denies|KBS_POLICY_DENIED|PolicyDeny/);
      return true;
    });
    assert.ok(!existsSync(path.join(pod.logDir, 'app.log')) || !readFileSync(path.join(pod.logDir, 'app.log'), 'utf8').includes(MARKER));
  } finally {
    await removePod(pod);
  }
});

test('unsigned and wrongly signed images are refused in the guest before any layer is unpacked', async () => {
  assert.ok(happy, 'needs the happy path');
  await assert.rejects(startApp(happy, `${guestReg}/e2e/app:unsigned`, 'unsigned'), (e: Error) => {
    assert.match(e.message, /IMG_SIGNATURE|signature/i);
    return true;
  });
  await assert.rejects(startApp(happy, `${guestReg}/e2e/bad:v1`, 'badsig'), (e: Error) => {
    assert.match(e.message, /IMG_SIGNATURE|signature/i);
    return true;
  });
});

test('teardown: StopPodSandbox and RemovePodSandbox leave no QEMU, shim or VM state', async () => {
  assert.ok(happy, 'needs the happy path');
  await removePod(happy);
  await waitFor('QEMU and shims gone', () => pidsMatching([stateDir]).length === 0, 30_000);
  await sleep(0);
  assert.deepEqual(existsSync(path.join(stateDir, 'sbs')) ? readdirSync(path.join(stateDir, 'sbs')) : [], []);
});
