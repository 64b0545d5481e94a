import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { buildTar, freePort, pushImage, startRegistry, tempDir, type PushedImage, type TestRegistry } from '@kata-cc/testing';
import { pullImage } from '../pull.js';
import { parseAuthFile } from './credentials.js';

// A real registry behind two small HTTP hops the tests control: a front that (a) requires Basic
// auth, (b) redirects blob GETs to another origin, and a blob origin that (c) cuts the first
// download of each blob half-way, so resume-with-Range and credential stripping are exercised.
const tmp = await tempDir('img-proxy-');
let reg: TestRegistry;
let img: PushedImage;
const payload = randomBytes(3 * 1024 * 1024);
const servers: http.Server[] = [];
const blobLog: { range?: string; authorization?: string; cut: boolean }[] = [];
let front = '';
const seen = new Set<string>();

function forward(req: http.IncomingMessage, res: http.ServerResponse, cutAfter?: number): void {
  const up = http.request(`${reg.url}${req.url ?? '/'}`, { method: req.method, headers: { ...req.headers, host: reg.host } }, (r) => {
    res.writeHead(r.statusCode ?? 502, r.headers);
    if (cutAfter === undefined) {
      r.pipe(res);
      return;
    }
    let sent = 0;
    r.on('data', (c: Buffer) => {
      if (sent + c.length >= cutAfter) {
        res.write(c.subarray(0, Math.max(0, cutAfter - sent)));
        res.socket?.destroy();
        r.destroy();
        return;
      }
      sent += c.length;
      res.write(c);
    });
    r.on('end', () => res.end());
  });
  req.pipe(up);
}

async function listen(handler: http.RequestListener): Promise<string> {
  const port = await freePort();
  const s = http.createServer(handler);
  servers.push(s);
  await new Promise<void>((r) => s.listen(port, '127.0.0.1', r));
  return `127.0.0.1:${port}`;
}

before(async () => {
  reg = await startRegistry();
  img = await pushImage(reg, 'p/app', 'v1', { layers: [{ tar: buildTar([{ path: 'big.bin', data: payload }]), compression: 'none' }] });
  const blobs = await listen((req, res) => {
    const first = !seen.has(req.url ?? '') && req.headers.range === undefined;
    seen.add(req.url ?? '');
    blobLog.push({ ...(req.headers.range ? { range: req.headers.range } : {}), ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}), cut: first });
    forward(req, res, first ? 1024 * 1024 : undefined);
  });
  front = await listen((req, res) => {
    if (req.headers.authorization !== `Basic ${Buffer.from('u:p').toString('base64')}`) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="front"' }).end();
      return;
    }
    if (req.method === 'GET' && /\/blobs\/sha256:/.test(req.url ?? '')) {
      res.writeHead(307, { location: `http://${blobs}${req.url ?? ''}` }).end();
      return;
    }
    forward(req, res);
  });
});
after(async () => {
  for (const s of servers) s.close();
  await reg?.stop();
  await tmp.cleanup();
});

test('pullImage() follows blob redirects without credentials and resumes a cut download with Range', async () => {
  const auth = parseAuthFile(JSON.stringify({ auths: { [front]: { auth: Buffer.from('u:p').toString('base64') } } }));
  for (const store of [undefined, path.join(tmp.dir, 'store')]) {
    blobLog.length = 0;
    seen.clear();
    const dest = path.join(tmp.dir, store ? 'with-store' : 'no-store');
    const r = await pullImage(`${front}/p/app:v1`, { dest, insecureRegistries: [front], auth, ...(store ? { store } : {}) });
    assert.equal(r.manifestDigest, img.manifestDigest);
    assert.deepEqual(readFileSync(path.join(dest, 'rootfs/big.bin')), payload);
    assert.ok(blobLog.every((b) => b.authorization === undefined), 'no credentials sent to the blob origin');
    const layerGets = blobLog.filter((b) => b.cut || b.range !== undefined);
    assert.ok(layerGets.some((b) => b.cut), 'a download was cut');
    assert.ok(layerGets.some((b) => /^bytes=\d+-$/.test(b.range ?? '')), 'the download resumed with Range');
  }
});
