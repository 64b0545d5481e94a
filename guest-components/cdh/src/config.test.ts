import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { hasCode } from '@kata-cc/errors';
import { tempDir } from '@kata-cc/testing';
import { parseCdhConfig } from './config.js';
import { provisionCredentials } from './credentials.js';
import { OfflineFsKbc } from './kbc/offline-fs.js';
import { MapResources } from './testing-resources.js';

test('parseCdhConfig() reads guest-components cdh.toml', () => {
  const c = parseCdhConfig(`
socket = "unix:///run/confidential-containers/cdh.sock"
[kbc]
name = "cc_kbc"
url = "http://kbs:8080"
[[credentials]]
resource_uri = "kbs:///default/aliyun/ecs_ram_role"
path = "/run/confidential-containers/cdh/kbs/kms-credential/aliyun/ecsRamRole.json"
[image]
max_concurrent_layer_downloads_per_image = 5
image_security_policy_uri = "kbs:///default/security-policy/test"
[image.image_pull_proxy]
https_proxy = "http://proxy"
[image.registry_config]
unqualified-search-registries = ["docker.io"]
[[image.registry_config.registry]]
location = "127.0.0.1:5000"
insecure = true
[[image.registry_config.registry]]
location = "quay.io"
`);
  assert.deepEqual(c.image.insecureRegistries, ['127.0.0.1:5000']);
  assert.equal(c.kbc.url, 'http://kbs:8080');
  assert.equal(c.aaSocket, 'unix:///run/confidential-containers/attestation-agent/attestation-agent.sock');
  assert.equal(c.credentials.length, 1);
  assert.equal(c.image.maxConcurrentLayerDownloadsPerImage, 5);
  assert.equal(c.image.imageSecurityPolicyUri, 'kbs:///default/security-policy/test');
  assert.equal(c.skipSealedSecretVerification, false);
});

test('parseCdhConfig() rejects bad values', () => {
  for (const [bad, code] of [
    ['[kbc]\nname = "cc_kbc"', 'CDH_INVALID_CONFIG'],
    ['[kbc]\nname = "sev_kbc"\nurl = "x"', 'CDH_UNKNOWN_KBC'],
    ['skip_sealed_secret_verification = "yes"\n[kbc]\nurl="x"', 'CDH_INVALID_CONFIG'],
    ['[kbc]\nurl="x"\n[[credentials]]\npath = "/x"', 'CDH_INVALID_CONFIG'],
  ] as const) {
    assert.throws(() => parseCdhConfig(bad), (e) => hasCode(e, code), bad);
  }
});

test('OfflineFsKbc.getResource() reads base64 resources from the JSON file', async (t) => {
  const { dir, cleanup } = await tempDir('offline-');
  t.after(cleanup);
  const file = path.join(dir, 'r.json');
  await writeFile(file, JSON.stringify({ 'default/key/1': Buffer.from('k1').toString('base64') }));
  const kbc = new OfflineFsKbc({ file });
  assert.equal(Buffer.from(await kbc.getResource('kbs:///default/key/1')).toString(), 'k1');
  await assert.rejects(kbc.getResource('kbs:///default/key/2'), (e) => hasCode(e, 'CDH_RESOURCE_NOT_FOUND'));
  await assert.rejects(kbc.getResource('kbs:///__proto__/x/y'), (e) => hasCode(e, 'CDH_RESOURCE_NOT_FOUND') || hasCode(e, 'KBC_INVALID_RESOURCE_URI'));
});

test('provisionCredentials() writes under the credentials dir only', async (t) => {
  const { dir, cleanup } = await tempDir('creds-');
  t.after(cleanup);
  const base = path.join(dir, 'kbs');
  await mkdir(base);
  const res = new MapResources().set('kbs:///default/cred/1', 'c1');
  await provisionCredentials([{ resourceUri: 'kbs:///default/cred/1', path: path.join(base, 'a', 'c.json') }], res, base);
  assert.equal(await readFile(path.join(base, 'a', 'c.json'), 'utf8'), 'c1');
  await assert.rejects(provisionCredentials([{ resourceUri: 'kbs:///default/cred/1', path: path.join(base, '..', 'evil') }], res, base), (e) => hasCode(e, 'CDH_CREDENTIAL_PATH'));
});
