import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkHost, qemuVersion, realHostProbe, type HostProbe } from './host-check.js';

const opts = { qemu: 'qemu-system-x86_64', firmware: { tdx: '/fw/OVMF.inteltdx.fd', snp: '/fw/AMDSEV.fd' }, containerdConfig: '/etc/containerd/config.toml', pathEnv: '/usr/local/bin:/usr/bin' };

function probe(files: Record<string, string>, qemu = 'QEMU emulator version 10.1.0', objects = 'tdx-guest\nsev-snp-guest\n', kvm = true): HostProbe {
  return {
    readFile: (p) => files[p],
    exists: (p) => p in files,
    qemuInfo: async () => ({ version: qemu, objects }),
    kvmWorks: async () => ({ ok: kvm, error: kvm ? '' : 'Could not access KVM kernel module' }),
  };
}

test('a TDX host with QEMU 10.1 passes the TDX checks; SNP/SE fail with fixes', async () => {
  const r = await checkHost(opts, probe({ '/sys/module/kvm_intel/parameters/tdx': 'Y\n', '/fw/OVMF.inteltdx.fd': '', '/etc/containerd/config.toml': 'runtime_type = "io.containerd.kata-cc.v2"', '/usr/local/bin/containerd-shim-kata-cc-v2': '' }));
  const by = Object.fromEntries(r.map((c) => [c.id, c]));
  for (const id of ['kvm', 'tdx', 'firmware-tdx', 'qemu', 'qemu-tdx', 'containerd', 'shim']) assert.equal(by[id]?.ok, true, id);
  assert.equal(by['snp']?.ok, false);
  assert.match(by['snp']?.fix ?? '', /sev_snp=1/);
  assert.equal(by['se']?.ok, false);
  assert.match(by['vhost-vsock']?.fix ?? '', /virtio-serial/);
});

test('old QEMU fails the TDX/SNP object checks even when it lists the objects', async () => {
  const r = await checkHost(opts, probe({}, 'QEMU emulator version 7.2.19 (Debian 1:7.2+dfsg-7+deb12u18)', 'sev-guest\n', false));
  const by = Object.fromEntries(r.map((c) => [c.id, c]));
  assert.equal(by['qemu-tdx']?.ok, false);
  assert.equal(by['qemu-snp']?.ok, false);
  assert.match(by['kvm']?.fix ?? '', /tcg/);
  assert.deepEqual(qemuVersion('QEMU emulator version 9.1.2'), [9, 1]);
});

test('this machine: QEMU runs; KVM is probed for real (nested KVM absent here)', async () => {
  const r = await checkHost(opts, realHostProbe);
  const q = r.find((c) => c.id === 'qemu');
  assert.equal(q?.ok, true);
  assert.match(q?.detail ?? '', /QEMU emulator version/);
  assert.equal(typeof r.find((c) => c.id === 'kvm')?.ok, 'boolean');
});
