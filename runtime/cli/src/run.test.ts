import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'smol-toml';
import { guestReachable, runInitdata, RUN_KEY_RESOURCE } from './run.js';

test('loopback registries and KBS are rewritten to the address the guest reaches them at', () => {
  assert.equal(guestReachable('127.0.0.1:5000/app:1'), '10.0.2.2:5000/app:1');
  assert.equal(guestReachable('localhost:5000/app'), '10.0.2.2:5000/app');
  assert.equal(guestReachable('registry.example.com/app'), 'registry.example.com/app');
  assert.equal(guestReachable('127.0.0.10:5000/app'), '127.0.0.10:5000/app');
});

test('run initdata: valid kata initdata with the KBS for AA and CDH, insecure registries, the key resource', () => {
  const doc = parse(runInitdata('http://10.0.2.2:8080', ['10.0.2.2:5000'], true)) as { version: string; algorithm: string; data: Record<string, string> };
  assert.equal(doc.version, '0.1.0');
  assert.equal(doc.algorithm, 'sha384');
  const aa = parse(doc.data['aa.toml'] as string) as { token_configs: { kbs: { url: string } } };
  assert.equal(aa.token_configs.kbs.url, 'http://10.0.2.2:8080');
  const cdh = parse(doc.data['cdh.toml'] as string) as { kbc: { name: string; url: string }; credentials: Array<{ resource_uri: string }>; image: { registry_config: { registry: Array<{ location: string; insecure: boolean }> } } };
  assert.deepEqual({ ...cdh.kbc }, { name: 'cc_kbc', url: 'http://10.0.2.2:8080' });
  assert.equal(cdh.credentials[0]?.resource_uri, `kbs:///${RUN_KEY_RESOURCE}`);
  assert.deepEqual(cdh.image.registry_config.registry.map((r) => ({ ...r })), [{ location: '10.0.2.2:5000', insecure: true }]);
});
