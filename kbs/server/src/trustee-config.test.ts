import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { hasCode } from '@kata-cc/errors';
import { tempDir } from '@kata-cc/testing';
import { readTrusteeConfig } from './trustee-config.js';

test('a trustee kbs-config.toml maps onto our options; InsecureAllowAll is not honoured', async () => {
  const t = await tempDir('kbs-cfg-');
  try {
    const f = path.join(t.dir, 'kbs-config.toml');
    writeFileSync(f, `
[http_server]
sockets = ["0.0.0.0:8080"]
insecure_http = false
private_key = "/etc/kbs/key.pem"
certificate = "/etc/kbs/cert.pem"
payload_request_size = 4

[attestation_service]
type = "coco_as_builtin"
timeout = 10

[attestation_service.attestation_token_broker]
duration_min = 2
signer = { key_path = "/etc/kbs/token.key" }

[admin]
type = "Simple"
[[admin.personas]]
id = "admin"
public_key_path = "/etc/kbs/admin.pub"

[storage_backend]
storage_type = "LocalFs"
[storage_backend.backends.local_fs]
dir_path = "/var/lib/kbs"
`);
    const c = readTrusteeConfig(f);
    assert.deepEqual(c, {
      ignored: [],
      listen: '0.0.0.0:8080',
      insecureHttp: false,
      tlsCert: '/etc/kbs/cert.pem',
      tlsKey: '/etc/kbs/key.pem',
      bodyLimitBytes: 4 * 1024 * 1024,
      sessionTimeoutSeconds: 600,
      tokenLifetimeSeconds: 120,
      tokenSignerKey: '/etc/kbs/token.key',
      adminKeyFiles: ['/etc/kbs/admin.pub'],
      storage: 'sqlite:/var/lib/kbs/kbs.sqlite',
    });
    writeFileSync(f, '[admin]\nauthorization_mode = "InsecureAllowAll"\n[storage_backend]\nstorage_type = "Redis"\n');
    const d = readTrusteeConfig(f);
    assert.equal(d.adminKeyFiles, undefined);
    assert.equal(d.ignored.length, 2);
    writeFileSync(f, '[http_server\n');
    assert.throws(() => readTrusteeConfig(f), (e) => hasCode(e, 'KBS_CONFIG_INVALID'));
  } finally {
    await t.cleanup();
  }
});
