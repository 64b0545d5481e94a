import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { hasCode } from '@kata-cc/errors';
import { parseConfig } from './config-load.js';
import { applyAnnotations } from './annotations.js';
import { decodeInitdata, initdataDiskImage, launchFieldDigest } from './initdata.js';

const base = { hypervisor: { qemu: { tee: 'none', kernel: '/k' } } };
const rejects = (doc: Record<string, unknown>, code: string, key: RegExp): void => {
  assert.throws(() => parseConfig(doc), (e: unknown) => hasCode(e, code) && key.test(e.message));
};

test('configuration errors name the key', () => {
  rejects({ hypervisor: { qemu: { tee: 'none' } } }, 'HV_CONFIG_MISSING', /"hypervisor.qemu.kernel"/);
  rejects({ hypervisor: { qemu: { tee: 'none', kernel: '/k', defualt_memory: 1 } } }, 'HV_CONFIG_UNKNOWN_KEY', /"hypervisor.qemu.defualt_memory"/);
  rejects({ hypervisor: { qemu: { tee: 'sgx', kernel: '/k' } } }, 'HV_CONFIG_INVALID', /"hypervisor.qemu.tee".*tdx, snp, se, none/);
  rejects({ hypervisor: { qemu: { tee: 'tdx', kernel: '/k', accel: 'tcg', firmware: '/f' } } }, 'HV_CONFIG_INVALID', /"hypervisor.qemu.accel"/);
  rejects({ hypervisor: { qemu: { tee: 'snp', kernel: '/k' } } }, 'HV_CONFIG_INVALID', /"hypervisor.qemu.firmware".*AMDSEV.fd/);
  rejects({ hypervisor: { qemu: { tee: 'snp', kernel: '/k', firmware: '/f', snp_id_block: 'x' } } }, 'HV_CONFIG_INVALID', /snp_id_block/);
  rejects({ hypervisor: { qemu: { tee: 'none', kernel: '/k', default_memory: 10 } } }, 'HV_CONFIG_INVALID', /"hypervisor.qemu.default_memory".*128/);
  rejects({ hypervisor: { qemu: { tee: 'none', kernel: '/k', kernel_verity_params: 'root_hash=zz' } } }, 'HV_CONFIG_INVALID', /kernel_verity_params.*root_hash/);
  rejects({ ...base, agent: { kata: { dial_timeout: 'soon' } } }, 'HV_CONFIG_INVALID', /"agent.kata.dial_timeout"/);
  rejects({ ...base, runtime: { sandbox_cgroup_only: true } }, 'HV_CONFIG_UNKNOWN_KEY', /"runtime.sandbox_cgroup_only"/);
  rejects({ hypervisor: {} }, 'HV_CONFIG_INVALID', /"hypervisor"/);
});

test('kata defaults: 1 vCPU, 2048 MiB, pmu=off, 60 s timeouts, kata annotation allow-list', () => {
  const c = parseConfig(base);
  assert.equal(c.hypervisor.type, 'qemu');
  if (c.hypervisor.type !== 'qemu') return;
  assert.equal(c.hypervisor.vcpus, 1);
  assert.equal(c.hypervisor.memoryMiB, 2048);
  assert.equal(c.hypervisor.cpuFeatures, 'pmu=off');
  assert.equal(c.agent.dialTimeoutMs, 60_000);
  assert.equal(c.agent.createContainerTimeoutMs, 60_000);
  assert.deepEqual(c.hypervisor.enableAnnotations, ['enable_iommu', 'kernel_params', 'kernel_verity_params', 'default_vcpus', 'default_memory', 'cc_init_data']);
});

test('annotations: only enabled keys apply; others are refused', () => {
  const c = parseConfig({ hypervisor: { qemu: { tee: 'none', kernel: '/k', enable_annotations: ['default_memory', 'kernel_params'] } } }).hypervisor;
  const o = applyAnnotations(c, { 'io.katacontainers.config.hypervisor.default_memory': '512', 'io.katacontainers.config.hypervisor.kernel_params': 'agent.log=debug', 'other.x': 'y' });
  assert.equal(o.hypervisor.memoryMiB, 512);
  assert.deepEqual(o.hypervisor.kernelParams, ['agent.log=debug']);
  assert.equal(c.memoryMiB, 2048, 'the base configuration is not mutated');
  assert.throws(() => applyAnnotations(c, { 'io.katacontainers.config.hypervisor.cc_init_data': 'x' }), (e: unknown) => hasCode(e, 'HV_ANNOTATION_NOT_ALLOWED'));
  assert.throws(() => applyAnnotations(c, { 'io.katacontainers.config.hypervisor.default_memory': 'lots' }), (e: unknown) => hasCode(e, 'HV_ANNOTATION_INVALID'));
});

test('initdata: digest over the exact TOML bytes, padded/truncated per TEE, disk layout', () => {
  const toml = Buffer.from('version = "0.1.0"\nalgorithm = "sha256"\n[data]\n"policy.rego" = "package agent_policy"\n');
  const gz = gzipSync(toml);
  const i = decodeInitdata(gz.toString('base64'));
  assert.deepEqual(i.digest, createHash('sha256').update(toml).digest());
  assert.equal(i.data['policy.rego'], 'package agent_policy');
  const mr = launchFieldDigest('tdx', i.digest) as Buffer;
  assert.equal(mr.length, 48);
  assert.deepEqual(mr.subarray(0, 32), i.digest);
  assert.deepEqual(mr.subarray(32), Buffer.alloc(16));
  assert.equal(launchFieldDigest('snp', i.digest)?.length, 32);
  assert.equal(launchFieldDigest('none', i.digest), undefined);
  const img = initdataDiskImage(i);
  assert.equal(img.subarray(0, 8).toString(), 'initdata');
  assert.equal(img.readBigUInt64LE(8), BigInt(gz.length));
  assert.deepEqual(img.subarray(16, 16 + gz.length), gz);
  assert.equal(img.length % 512, 0);
});

test('initdata: invalid documents are refused with HV_INITDATA_INVALID', () => {
  const enc = (s: string): string => gzipSync(Buffer.from(s)).toString('base64');
  for (const [value, why] of [
    ['not base64!', /base64/],
    [Buffer.from('plain').toString('base64'), /gzip/],
    [enc('version = "0.2.0"\nalgorithm = "sha256"\n'), /version/],
    [enc('version = "0.1.0"\nalgorithm = "md5"\n'), /algorithm/],
    [enc('version = "0.1.0"\nalgorithm = "sha256"\n[data]\nx = 1\n'), /data."x"/],
    [enc('= broken'), /TOML/],
    [gzipSync(Buffer.alloc(2 << 20, 0x20)).toString('base64'), /gzip/],
  ] as const) {
    assert.throws(() => decodeInitdata(value), (e: unknown) => hasCode(e, 'HV_INITDATA_INVALID') && why.test(e.message), String(why));
  }
});
