#!/usr/bin/env node
// KBS benchmark: complete handshakes (POST /auth + POST /attest + GET /resource) per second at
// concurrency 1, 16 and 64 against the real `kbs` binary on loopback (sample TEE, dev mode),
// with p50/p99 latency and the KBS RSS; then the same against two replicas on one PostgreSQL
// (auth on replica A, attest + resource on replica B). It also times, in the same run, the
// crypto one handshake costs the server (node:crypto only) to give the upper bound.
// Writes bench/results/kbs.json. Needs `npm run build` first.
import { createCipheriv, createHash, createPublicKey, diffieHellman, generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { flattenedDecrypt, SignJWT } from 'jose';
import { b64Encode, canonicalize, expectedReportData } from '@kata-cc/kbs-types';
import { startKbsProcess, startPostgres } from '@kata-cc/testing';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
if (!existsSync(path.join(root, 'kbs/server/dist/bin/kbs.js'))) {
  console.error('kbs bench: build first (npm run build)');
  process.exit(2);
}

const SECONDS = Number(process.env.KBS_BENCH_SECONDS ?? 5);
const LEVELS = [1, 16, 64];
const RESOURCE = new Uint8Array(randomBytes(64));

function log(msg) {
  process.stderr.write(`kbs bench: ${msg}\n`);
}

// ---- a lean HTTP client (keep-alive) so the driver costs the shared CPU as little as possible
function http(agent, base, method, p, body, headers = {}) {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body);
    const req = request({ agent, host: u.hostname, port: u.port, method, path: p, headers: { ...(data === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) }), ...headers } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString(), cookie: /kbs-session-id=([0-9a-f]+)/.exec(res.headers['set-cookie']?.[0] ?? '')?.[1] }));
    });
    req.on('error', reject);
    if (data !== undefined) req.write(data);
    req.end();
  });
}

// The guest's TEE key pairs are made before timing: key generation is the client's cost.
const keys = Array.from({ length: 64 }, () => {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const j = publicKey.export({ format: 'jwk' });
  return { privateKey, jwk: { kty: 'EC', crv: 'P-256', alg: 'ECDH-ES+A256KW', x: j.x, y: j.y } };
});

async function oneHandshake(agentA, agentB, authBase, base, key, check) {
  const a = await http(agentA, authBase, 'POST', '/kbs/v0/auth', { version: '0.4.0', tee: 'sample', 'extra-params': '' });
  if (a.status !== 200) throw new Error(`auth ${a.status} ${a.body}`);
  const nonce = JSON.parse(a.body).nonce;
  const rd = expectedReportData(nonce, key.jwk, '', 'sha384');
  const cookie = `kbs-session-id=${a.cookie}`;
  const t = await http(agentB, base, 'POST', '/kbs/v0/attest', {
    'init-data': null,
    'runtime-data': { nonce, 'tee-pubkey': key.jwk },
    'tee-evidence': { primary_evidence: { svn: '1', report_data: b64Encode(rd) }, additional_evidence: '' },
  }, { cookie });
  if (t.status !== 200) throw new Error(`attest ${t.status} ${t.body}`);
  const r = await http(agentB, base, 'GET', '/kbs/v0/resource/bench/key/1', undefined, { cookie });
  if (r.status !== 200) throw new Error(`resource ${r.status} ${r.body}`);
  if (check) {
    const plain = (await flattenedDecrypt(JSON.parse(r.body), key.privateKey)).plaintext;
    if (Buffer.compare(Buffer.from(plain), Buffer.from(RESOURCE)) !== 0) throw new Error('decrypted resource differs');
  }
}

function rssMiB(pid) {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(s)?.[1] ?? 0);
  return { rssMiB: +(kb('VmRSS') / 1024).toFixed(1), peakRssMiB: +(kb('VmHWM') / 1024).toFixed(1) };
}

/** CPU seconds (user + system) a process has used so far, from /proc (clock ticks of 10 ms). */
function cpuSeconds(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

function pct(sorted, p) {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function runLevel(authBase, base, concurrency, pids, full) {
  const agentA = new Agent({ keepAlive: true, maxSockets: concurrency });
  const agentB = authBase === base ? agentA : new Agent({ keepAlive: true, maxSockets: concurrency });
  const handshake = full ?? ((key, check) => oneHandshake(agentA, agentB, authBase, base, key, check));
  // Warm-up (JIT, pools), also checks that the JWE decrypts to the stored resource.
  for (let i = 0; i < Math.min(concurrency, 8); i++) await handshake(keys[i], true);
  const lat = [];
  let errors = 0;
  const cpu0 = pids.map(cpuSeconds);
  const deadline = performance.now() + SECONDS * 1000;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async (_, w) => {
    while (performance.now() < deadline) {
      const s = performance.now();
      try {
        await handshake(keys[w % keys.length], false);
        lat.push(performance.now() - s);
      } catch (e) {
        errors++;
        if (errors < 3) log(`handshake failed: ${e.message}`);
      }
    }
  }));
  const seconds = (performance.now() - t0) / 1000;
  const serverCpu = pids.map(cpuSeconds).reduce((a, v, i) => a + v - cpu0[i], 0);
  agentA.destroy();
  agentB.destroy();
  lat.sort((a, b) => a - b);
  const mem = pids.map(rssMiB);
  const r = {
    concurrency,
    handshakes: lat.length,
    errors,
    seconds: +seconds.toFixed(2),
    handshakesPerSecond: +(lat.length / seconds).toFixed(1),
    p50ms: +pct(lat, 50).toFixed(2),
    p99ms: +pct(lat, 99).toFixed(2),
    kbsRss: mem,
    // Load-independent: server CPU per handshake, and what one core could sustain at that cost.
    kbsCpuMsPerHandshake: lat.length === 0 ? null : +((serverCpu * 1000) / lat.length).toFixed(3),
    kbsCpuBoundHandshakesPerSecondOneCore: serverCpu === 0 ? null : Math.round(lat.length / serverCpu),
  };
  log(`c=${concurrency}: ${r.handshakesPerSecond}/s p50 ${r.p50ms} ms p99 ${r.p99ms} ms rss ${mem.map((m) => m.rssMiB).join('+')} MiB, kbs cpu ${r.kbsCpuMsPerHandshake} ms/handshake, errors ${errors}`);
  return r;
}

async function setup(base, adminKey) {
  const token = await new SignJWT({}).setProtectedHeader({ alg: 'EdDSA' }).setExpirationTime('1h').sign(adminKey);
  const r = await http(undefined, base, 'POST', '/kbs/v0/resource/bench/key/1', RESOURCE, { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream', 'content-length': RESOURCE.length });
  if (r.status !== 200) throw new Error(`set resource ${r.status} ${r.body}`);
}

// ---- the crypto one handshake costs the server, with node:crypto only
function cryptoBound() {
  const N = 2000;
  const signer = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const tee = keys[0];
  const teePub = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: tee.jwk.x, y: tee.jwk.y }, format: 'jwk' });
  const payload = Buffer.from('x'.repeat(1500)); // about the size of a sample EAR token
  const sig = sign('sha256', payload, { key: signer.privateKey, dsaEncoding: 'ieee-p1363' });
  // CPU time, not wall time, so other load on the machine does not inflate the bound.
  const time = (fn) => {
    for (let i = 0; i < 200; i++) fn();
    const s = process.cpuUsage();
    for (let i = 0; i < N; i++) fn();
    const d = process.cpuUsage(s);
    return (d.user + d.system) / N;
  };
  const parts = {
    nonce: time(() => randomBytes(32).toString('base64')),
    bindingJcsSha384: time(() => createHash('sha384').update(canonicalize({ 'tee-pubkey': tee.jwk, nonce: 'n', 'additional-evidence': '' })).digest()),
    tokenSignEs256: time(() => sign('sha256', payload, { key: signer.privateKey, dsaEncoding: 'ieee-p1363' })),
    tokenVerifyEs256: time(() => verify('sha256', payload, { key: signer.publicKey, dsaEncoding: 'ieee-p1363' }, sig)),
    jweEcdhEsA256kwA256gcm: time(() => {
      const eph = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const z = diffieHellman({ privateKey: eph.privateKey, publicKey: teePub });
      const kek = createHash('sha256').update(Buffer.concat([Buffer.from([0, 0, 0, 1]), z])).digest();
      const w = createCipheriv('id-aes256-wrap', kek, Buffer.from('A6A6A6A6A6A6A6A6', 'hex'));
      const cek = Buffer.concat([w.update(randomBytes(32)), w.final()]).subarray(0, 32);
      const g = createCipheriv('aes-256-gcm', randomBytes(32), randomBytes(12));
      g.update(RESOURCE);
      g.final();
      void cek;
    }),
  };
  const total = Object.values(parts).reduce((a, b) => a + b, 0);
  const r = { microsecondsPerHandshake: Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, +v.toFixed(1)])), totalMicroseconds: +total.toFixed(1), boundHandshakesPerSecondOneCore: Math.round(1e6 / total) };
  log(`crypto alone: ${r.totalMicroseconds} us/handshake -> ${r.boundHandshakesPerSecondOneCore}/s on one core`);
  return r;
}

const dir = mkdtempSync(path.join(tmpdir(), 'kbs-bench-'));
const admin = generateKeyPairSync('ed25519');
writeFileSync(path.join(dir, 'admin.pub'), admin.publicKey.export({ format: 'pem', type: 'spki' }));
// Every handshake leaves a live session until it expires; the bench opens far more than the
// default cap of 10000 (a DoS guard), so the cap is raised to measure throughput, not the guard.
const common = ['--insecure-http', '--allow-sample', '--max-sessions', '10000000', '--admin-key', path.join(dir, 'admin.pub')];
const results = {
  benchmark: 'kbs',
  date: new Date().toISOString(),
  machine: { loadAverageAtStart: loadavg(), cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version, note: 'client driver runs on the same machine and shares its cores' },
  secondsPerLevel: SECONDS,
  handshake: 'POST /kbs/v0/auth + POST /kbs/v0/attest (sample TEE, EC P-256 TEE key) + GET /kbs/v0/resource (JWE ECDH-ES+A256KW)',
  configurations: [],
};
let pg;
const procs = [];
try {
  results.cryptoOnly = cryptoBound();
  for (const [name, storage] of [['one KBS, SQLite', `sqlite:${path.join(dir, 'kbs.db')}`], ['one KBS, memory', 'memory:']]) {
    const p = await startKbsProcess([...common, '--storage', storage]);
    procs.push(p);
    await setup(p.url, admin.privateKey);
    const levels = [];
    log(name);
    for (const c of LEVELS) levels.push(await runLevel(p.url, p.url, c, [p.proc.pid]));
    results.configurations.push({ name, storage: storage.split(':')[0], replicas: 1, levels });
    await p.stop();
  }
  pg = await startPostgres();
  const url = await pg.createDatabase('kbs_bench');
  const a = await startKbsProcess([...common, '--storage', url]);
  const b = await startKbsProcess([...common, '--storage', url]);
  procs.push(a, b);
  await setup(a.url, admin.privateKey);
  const levels = [];
  log('two replicas on one PostgreSQL (auth on A, attest + resource on B)');
  for (const c of LEVELS) levels.push(await runLevel(a.url, b.url, c, [a.proc.pid, b.proc.pid]));
  results.configurations.push({ name: 'two KBS replicas, one PostgreSQL (auth on A, attest+resource on B)', storage: 'postgres', replicas: 2, levels });
  await a.stop();
  await b.stop();
  // The real guest client, when built: a new @kata-cc/kbs-client per handshake (sample
  // attester, pooled TEE keys) that also decrypts every JWE: the client shares the 2 cores.
  const clientDist = path.join(root, 'attestation-agent/kbs-client/dist/index.js');
  const attesterDist = path.join(root, 'attestation-agent/attester/dist/index.js');
  if (existsSync(clientDist) && existsSync(attesterDist)) {
    const { KbsClient, TeeKeyPair } = await import(clientDist);
    const { SampleAttester } = await import(attesterDist);
    const p = await startKbsProcess([...common, '--storage', `sqlite:${path.join(dir, 'kbs2.db')}`]);
    procs.push(p);
    await setup(p.url, admin.privateKey);
    const pool = keys.map((k) => TeeKeyPair.fromPem(k.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()));
    let n = 0;
    const full = async () => {
      const c = new KbsClient({ url: p.url, teeKey: pool[n++ % pool.length] }, { attester: new SampleAttester() });
      try {
        const plain = await c.getResource('kbs:///bench/key/1');
        if (Buffer.compare(Buffer.from(plain), Buffer.from(RESOURCE)) !== 0) throw new Error('kbs-client decrypted a different resource');
      } finally {
        await c.close();
      }
    };
    const fl = [];
    log('one KBS, SQLite, driven by @kata-cc/kbs-client (decrypts every JWE)');
    for (const c of [1, 16]) fl.push(await runLevel(p.url, p.url, c, [p.proc.pid], full));
    results.configurations.push({ name: 'one KBS, SQLite, @kata-cc/kbs-client driver', storage: 'sqlite', replicas: 1, client: '@kata-cc/kbs-client', levels: fl });
  }
  const best = Math.max(...results.configurations[0].levels.map((l) => l.handshakesPerSecond));
  results.machine.loadAverageAtEnd = loadavg();
  const cpuMs = Math.min(...results.configurations[0].levels.map((l) => l.kbsCpuMsPerHandshake ?? Infinity));
  results.summary = {
    bestSqliteHandshakesPerSecond: best,
    sqliteKbsCpuMsPerHandshake: cpuMs,
    cryptoOnlyMsPerHandshake: +(results.cryptoOnly.totalMicroseconds / 1000).toFixed(3),
    cryptoBoundOneCore: results.cryptoOnly.boundHandshakesPerSecondOneCore,
    // The share of the KBS's CPU per handshake that is the unavoidable crypto.
    cryptoShareOfKbsCpu: +(results.cryptoOnly.totalMicroseconds / 1000 / cpuMs).toFixed(3),
    fractionOfCryptoBound: +(best / results.cryptoOnly.boundHandshakesPerSecondOneCore).toFixed(3),
  };
  writeFileSync(path.join(root, 'bench/results/kbs.json'), `${JSON.stringify(results, null, 2)}\n`);
  log(`wrote bench/results/kbs.json: ${JSON.stringify(results.summary)}`);
} finally {
  for (const p of procs) await p.stop().catch(() => {});
  await pg?.stop();
  rmSync(dir, { recursive: true, force: true });
}
