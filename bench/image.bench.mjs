#!/usr/bin/env node
// image-rs benchmark: pull + unpack of a ~200 MiB (uncompressed), 10-layer gzip image from a
// local docker-registry, plain and encrypted (skopeo jwe RSA), measuring wall time and peak RSS:
//   - ours (`image-rs pull`): cold store, then warm store (nothing transferred), and no store
//     (layers streamed socket -> disk);
//   - containerd 1.6 (`ctr image pull`, which unpacks into the overlayfs snapshotter), private
//     instance; RSS is the containerd daemon's peak (the work happens there, not in ctr);
//   - `skopeo copy` + `umoci unpack` (RSS: the larger of the two).
// containerd cannot decrypt without imgcrypt's ctd-decoder (not in Debian): reported as such.
// Writes bench/results/image.json. Needs `npm run build` first.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildTar, pushImage, startRegistry, writeOciLayout } from '@kata-cc/testing';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const cli = path.join(root, 'image-rs/bin/image-rs.js');
if (!existsSync(path.join(root, 'image-rs/dist/bin/image-rs.js'))) {
  console.error('image bench: build first (npm run build)');
  process.exit(2);
}
const LAYERS = Number(process.env.IMAGE_BENCH_LAYERS ?? 10);
const LAYER_MIB = Number(process.env.IMAGE_BENCH_LAYER_MIB ?? 20);
const RUNS = Number(process.env.IMAGE_BENCH_RUNS ?? 3);
// tmpfs when available: the guest unpacks into tmpfs too, and disk writeback of earlier runs
// would otherwise leak into later runs' timings.
const work = mkdtempSync(path.join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'img-bench-'));
const log = (m) => process.stderr.write(`image bench: ${m}\n`);

/**
 * Runs a command under GNU time: wall seconds, CPU seconds (user + system: less sensitive to
 * other load on a shared machine than wall time) and max RSS (MiB).
 */
function timed(cmd, args, env = process.env) {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M %U %S', cmd, ...args], { encoding: 'utf8', env, maxBuffer: 1 << 26 });
  const last = r.stderr.trim().split('\n').pop() ?? '';
  const [secs, kb, user, sys] = last.split(' ').map(Number);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr.slice(-2000)}`);
  return { seconds: secs, cpuSeconds: Math.round((user + sys) * 100) / 100, rssMiB: Math.round(kb / 1024), stdout: r.stdout };
}

/** utime + stime of a process in seconds (/proc/<pid>/stat fields 14 and 15, 100 Hz ticks). */
function procCpu(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(f[11]) + Number(f[12])) / 100;
}

function layerTar(i) {
  // Mixed content like real images: 60 % incompressible, 40 % text-like, in 256 KiB files.
  const files = [];
  const fileSize = 256 * 1024;
  const count = Math.floor((LAYER_MIB * 1024 * 1024) / fileSize);
  const text = Buffer.from(`layer ${i} lorem ipsum dolor sit amet, consectetur adipiscing elit ${'x'.repeat(40)}\n`.repeat(Math.ceil(fileSize / 100))).subarray(0, fileSize);
  files.push({ path: `l${i}/`, type: 'dir' });
  for (let f = 0; f < count; f++) files.push({ path: `l${i}/f${f}.bin`, data: f % 5 < 3 ? randomBytes(fileSize) : text });
  return buildTar(files);
}

const results = { date: new Date().toISOString(), machine: '2 cores (shared), Debian 12, Node ' + process.version, image: {}, runs: [] };
let reg;
let ctdPid;
try {
  reg = await startRegistry();
  log(`registry ${reg.host}; building ${LAYERS} x ${LAYER_MIB} MiB layers`);
  const image = { config: { Cmd: ['/bin/sh'] }, layers: Array.from({ length: LAYERS }, (_, i) => ({ tar: layerTar(i) })) };
  const pushed = await pushImage(reg, 'bench/plain', 'v1', image);
  results.image = {
    layers: LAYERS,
    uncompressedMiB: Math.round(image.layers.reduce((s, l) => s + l.tar.length, 0) / 1048576),
    compressedMiB: Math.round(pushed.layers.reduce((s, l) => s + l.size, 0) / 1048576),
  };
  writeOciLayout(path.join(work, 'layout'), 'v1', image);
  image.layers.length = 0;
  execFileSync('openssl', ['genrsa', '-out', path.join(work, 'rsa.pem'), '2048'], { stdio: 'ignore' });
  execFileSync('openssl', ['rsa', '-in', path.join(work, 'rsa.pem'), '-pubout', '-out', path.join(work, 'rsa.pub.pem')], { stdio: 'ignore' });
  execFileSync('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', '--encryption-key', `jwe:${path.join(work, 'rsa.pub.pem')}`, `oci:${path.join(work, 'layout')}:v1`, `docker://${reg.host}/bench/enc:v1`]);
  rmSync(path.join(work, 'layout'), { recursive: true, force: true });
  log(`image: ${JSON.stringify(results.image)}`);

  let n = 0;
  const fresh = () => path.join(work, `out${n++}`);
  const record = (tool, variant, mode, m, extra = {}) => {
    results.runs.push({ tool, variant, mode, seconds: m.seconds, cpuSeconds: m.cpuSeconds, peakRssMiB: m.rssMiB, ...extra });
    log(`${tool} ${variant} ${mode}: ${m.seconds}s wall, ${m.cpuSeconds}s cpu, ${m.rssMiB} MiB`);
  };
  const cleanup = (...dirs) => dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));

  for (const variant of ['plain', 'enc']) {
    const ref = `${reg.host}/bench/${variant}:v1`;
    const keyArgs = variant === 'enc' ? ['--decryption-key', path.join(work, 'rsa.pem')] : [];
    // ours: median of RUNS runs per mode (the machine is shared; single runs are noisy)
    const env = { ...process.env, KATA_CC_LOG_LEVEL: 'warn' };
    const ours = (dest, store) => timed(process.execPath, [cli, 'pull', ref, '--dest', dest, '--insecure-registry', reg.host, '--json', ...(store ? ['--store', store] : []), ...keyArgs], env);
    const median = (ms, mode, extra) => {
      const sorted = [...ms].sort((x, y) => x.seconds - y.seconds);
      const mid = sorted[Math.floor(sorted.length / 2)];
      // pullSeconds: the pull inside the process (what the CDH pays; no Node startup).
      const pullSeconds = JSON.parse(mid.stdout).timings.totalMs / 1000;
      record('image-rs', variant, mode, { seconds: mid.seconds, cpuSeconds: mid.cpuSeconds, rssMiB: Math.max(...ms.map((m) => m.rssMiB)) }, { pullSeconds, samples: ms.map((m) => m.seconds), ...extra(mid) });
    };
    const transferred = (m) => ({ transferredMiB: Math.round(JSON.parse(m.stdout).layers.reduce((a, l) => a + l.transferred, 0) / 1048576) });
    const cold = [];
    for (let i = 0; i < RUNS; i++) {
      const store = fresh();
      const dest = fresh();
      cold.push(ours(dest, store));
      cleanup(store, dest);
    }
    median(cold, 'cold store', transferred);
    const store = fresh();
    const warmup = fresh();
    ours(warmup, store);
    cleanup(warmup);
    const warm = [];
    for (let i = 0; i < RUNS; i++) {
      const dest = fresh();
      warm.push(ours(dest, store));
      cleanup(dest);
    }
    cleanup(store);
    median(warm, 'warm store', transferred);
    const streaming = [];
    for (let i = 0; i < RUNS; i++) {
      const dest = fresh();
      streaming.push(ours(dest));
      cleanup(dest);
    }
    median(streaming, 'no store (streaming)', transferred);
    // skopeo + umoci
    {
      const oci = fresh();
      const bundle = fresh();
      const a = timed('skopeo', ['copy', '--quiet', '--src-tls-verify=false', ...keyArgs, `docker://${ref}`, `oci:${oci}:v1`]);
      const b = timed('umoci', ['unpack', '--image', `${oci}:v1`, bundle]);
      record('skopeo+umoci', variant, 'copy + unpack', { seconds: Math.round((a.seconds + b.seconds) * 100) / 100, cpuSeconds: Math.round((a.cpuSeconds + b.cpuSeconds) * 100) / 100, rssMiB: Math.max(a.rssMiB, b.rssMiB) }, { copySeconds: a.seconds, unpackSeconds: b.seconds });
      cleanup(oci, bundle);
    }
    // containerd
    if (variant === 'plain') {
      const samples = [];
      for (let i = 0; i < RUNS; i++) {
        const c = fresh();
        mkdirSync(c, { recursive: true });
        const sock = path.join(c, 'containerd.sock');
        writeFileSync(path.join(c, 'config.toml'), `version = 2\nroot = "${c}/root"\nstate = "${c}/state"\n[grpc]\n  address = "${sock}"\n[ttrpc]\n  address = "${sock}.ttrpc"\n[plugins."io.containerd.internal.v1.opt"]\n  path = "${c}/opt"\n`);
        const ctd = spawn('containerd', ['--config', path.join(c, 'config.toml')], { stdio: 'ignore' });
        ctdPid = ctd.pid;
        for (let k = 0; k < 100 && spawnSync('ctr', ['--address', sock, 'version']).status !== 0; k++) await new Promise((r) => setTimeout(r, 100));
        const cpu0 = procCpu(ctd.pid);
        const m = timed('ctr', ['--address', sock, '--namespace', 'bench', 'image', 'pull', '--plain-http', ref]);
        const daemonCpu = procCpu(ctd.pid) - cpu0;
        const hwm = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${ctd.pid}/status`, 'utf8'))?.[1] ?? 0);
        samples.push({ seconds: m.seconds, cpuSeconds: Math.round((m.cpuSeconds + daemonCpu) * 100) / 100, rssMiB: Math.round(hwm / 1024), ctrRssMiB: m.rssMiB });
        ctd.kill('SIGTERM');
        await new Promise((r) => ctd.once('exit', r));
        ctdPid = undefined;
        spawnSync('sh', ['-c', `grep " ${c}/" /proc/mounts | cut -d" " -f2 | xargs -r umount`]);
        cleanup(c);
      }
      const mid = [...samples].sort((x, y) => x.seconds - y.seconds)[Math.floor(samples.length / 2)];
      record('containerd', variant, 'ctr image pull (unpack, overlayfs)', mid, { ctrRssMiB: mid.ctrRssMiB, samples: samples.map((x) => x.seconds) });
    } else {
      results.runs.push({ tool: 'containerd', variant, mode: 'ctr image pull', unsupported: 'containerd 1.6 needs the imgcrypt ctd-decoder stream processor (not packaged in Debian) to decrypt layers' });
    }
  }
  writeFileSync(path.join(root, 'bench/results/image.json'), `${JSON.stringify(results, null, 2)}\n`);
  log('wrote bench/results/image.json');
} finally {
  if (ctdPid !== undefined) process.kill(ctdPid, 'SIGTERM');
  await reg?.stop();
  rmSync(work, { recursive: true, force: true });
}
