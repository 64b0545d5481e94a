import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { hasCode } from '@kata-cc/errors';
import { KubeApiLabeler, inClusterOptions } from './kube-api.js';

// A fake API server: kube-apiserver does not run on this machine. It records the PATCH the
// labeler sends, which is what `kubectl label node` sends.
const seen: Array<{ method: string | undefined; url: string | undefined; type: string | undefined; auth: string | undefined; body: string }> = [];
let server: http.Server;
let base = '';
before(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, type: req.headers['content-type'], auth: req.headers.authorization, body });
      if (req.url?.endsWith('/missing')) {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', message: 'nodes "missing" not found' }));
      } else res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((r) => server.close(() => r())));

test('KubeApiLabeler sends a JSON merge patch of the labels to a fake API server (null removes)', async () => {
  await new KubeApiLabeler({ server: base, token: 'sa-token' }).setLabels('aks-cc-1', { 'kata-cc.io/runtime': 'true', 'kata-cc.io/tee': null });
  assert.deepEqual(seen.at(-1), {
    method: 'PATCH',
    url: '/api/v1/nodes/aks-cc-1',
    type: 'application/merge-patch+json',
    auth: 'Bearer sa-token',
    body: '{"metadata":{"labels":{"kata-cc.io/runtime":"true","kata-cc.io/tee":null}}}',
  });
});

test('KubeApiLabeler reports API errors with INST_LABEL_FAILED and never the token', async () => {
  await assert.rejects(new KubeApiLabeler({ server: base, token: 'sa-token' }).setLabels('missing', { a: 'b' }), (e) => hasCode(e, 'INST_LABEL_FAILED') && /404: nodes "missing" not found/.test(e.message) && !e.message.includes('sa-token'));
  await assert.rejects(new KubeApiLabeler({ server: 'http://127.0.0.1:1', token: 't' }).setLabels('n', { a: 'b' }), (e) => hasCode(e, 'INST_LABEL_FAILED'));
});

test('inClusterOptions() is null outside a cluster and explains a missing service account token', async () => {
  assert.equal(await inClusterOptions({}), null);
  await assert.rejects(inClusterOptions({ KUBERNETES_SERVICE_HOST: '10.0.0.1' }, '/nonexistent-sa'), (e) => hasCode(e, 'INST_LABEL_FAILED') && /--no-label/.test(e.message));
});
