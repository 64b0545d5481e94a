import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { hasCode } from '@kata-cc/errors';
import { kbsUrlFromKbcParams, parseAaConfig } from './config.js';
import { parseInitData } from './initdata.js';

test('parseAaConfig() reads guest-components aa.toml', () => {
  const c = parseAaConfig(`
[token_configs.kbs]
url = "https://kbs:8080"
cert = """-----BEGIN CERTIFICATE-----
x
-----END CERTIFICATE-----"""
tee_key_algorithm = "RSA-OAEP-256"

[token_configs.coco_as]
url = "http://127.0.0.1:8000"

[eventlog_config]
init_pcr = 16
enable_eventlog = true

[log]
level = "debug"

[future_section]
x = 1
`);
  assert.equal(c.kbs?.url, 'https://kbs:8080');
  assert.match(c.kbs?.cert ?? '', /BEGIN CERTIFICATE/);
  assert.equal(c.kbs?.teeKeyAlgorithm, 'RSA-OAEP-256');
  assert.deepEqual(c.eventlog, { enable: true, initPcr: 16 });
  assert.equal(c.logLevel, 'debug');
  assert.deepEqual(c.ignoredKeys, ['future_section']);
  assert.equal(parseAaConfig('').kbs, undefined);
});

test('parseAaConfig() rejects wrong types with AA_INVALID_CONFIG', () => {
  for (const bad of ['[token_configs.kbs]\nurl = 1', '[token_configs.kbs]\nurl="x"\ntee_key_algorithm="RSA1_5"', '[eventlog_config]\ninit_pcr = 99', 'not toml =']) {
    assert.throws(() => parseAaConfig(bad), (e) => hasCode(e, 'AA_INVALID_CONFIG'), bad);
  }
});

test('kbsUrlFromKbcParams() reads cc_kbc params', () => {
  assert.equal(kbsUrlFromKbcParams('cc_kbc::http://kbs:8080'), 'http://kbs:8080');
  assert.throws(() => kbsUrlFromKbcParams('offline_fs_kbc::null'), (e) => hasCode(e, 'AA_INVALID_CONFIG'));
});

test('parseInitData() hashes the exact TOML bytes with the declared algorithm', () => {
  const text = `version = "0.1.0"\nalgorithm = "sha384"\n[data]\n"aa.toml" = '''\n[token_configs.kbs]\nurl = "http://kbs"\n'''\n`;
  const d = parseInitData(text);
  assert.equal(d.algorithm, 'sha384');
  assert.deepEqual(Buffer.from(d.digest), createHash('sha384').update(text).digest());
  assert.equal(parseAaConfig(d.data['aa.toml'] ?? '').kbs?.url, 'http://kbs');
  assert.throws(() => parseInitData('version = "0.1.0"\nalgorithm = "md5"\n'), (e) => hasCode(e, 'AA_INVALID_INITDATA'));
  assert.throws(() => parseInitData('version = "0.1.0"\nalgorithm = "sha256"\n[data]\nx = 1\n'), (e) => hasCode(e, 'AA_INVALID_INITDATA'));
});
