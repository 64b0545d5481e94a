import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { parseConfig } from '../config-load.js';
import type { QemuConfig } from '../config.js';
import { decodeInitdata } from '../initdata.js';
import { qemuCommandLine } from './cmdline.js';

const INITDATA_TOML = 'version = "0.1.0"\nalgorithm = "sha384"\n[data]\n"aa.toml" = \'\'\'\n[token_configs.kbs]\nurl = "http://kbs:8080"\n\'\'\'\n';
const initdata = decodeInitdata(gzipSync(Buffer.from(INITDATA_TOML)).toString('base64'));
const VERITY = 'root_hash=7abc0995e1d03b57b8a1b8fc8cd3e07cf1aa3d2cce4d3ed8d2cb7f4c5f1fd267,salt=6b6174612d6363,data_blocks=1024,data_block_size=4096,hash_block_size=4096';

function cfg(tee: string, extra: Record<string, unknown> = {}): QemuConfig {
  const c = parseConfig({ hypervisor: { qemu: { tee, kernel: '/k/vmlinuz', image: '/k/rootfs.img', kernel_verity_params: VERITY, ...extra } } }).hypervisor;
  assert.equal(c.type, 'qemu');
  return c as QemuConfig;
}
const vm = { id: 'abc', uuid: '00000000-0000-4000-8000-000000000001', dir: '/run/kata-cc/sbs/abc', initdata, initdataImage: '/run/kata-cc/sbs/abc/initdata.img' };
const after = (args: string[], flag: string): string[] => args.flatMap((a, i) => (args[i - 1] === flag ? [a] : []));

test('TDX: q35 split irqchip, JSON tdx-guest with 48-byte MRCONFIGID and QGS unix socket, OVMF, host CPU', () => {
  const l = qemuCommandLine(cfg('tdx', { firmware: '/opt/ovmf/OVMF.inteltdx.fd' }), { ...vm, exists: (f) => f === '/var/run/tdx-qgs/qgs.socket' });
  assert.deepEqual(after(l.args, '-machine'), ['q35,accel=kvm,kernel_irqchip=split,confidential-guest-support=tdx', 'memory-backend=dimm1']);
  const obj = after(l.args, '-object').find((o) => o.includes('tdx-guest')) as string;
  const mr = Buffer.alloc(48);
  initdata.digest.copy(mr); // sha384 = exactly 48 bytes
  assert.equal(obj, `{"qom-type":"tdx-guest","id":"tdx","mrconfigid":"${mr.toString('base64')}","quote-generation-socket":{"type":"unix","path":"/var/run/tdx-qgs/qgs.socket"}}`);
  assert.deepEqual(after(l.args, '-bios'), ['/opt/ovmf/OVMF.inteltdx.fd']);
  assert.deepEqual(after(l.args, '-cpu'), ['host,pmu=off']);
  assert.ok(!l.args.includes('virtio-rng-pci'));
  // without the QGS socket kata falls back to vsock CID 2 port 4050
  const l2 = qemuCommandLine(cfg('tdx', { firmware: '/f' }), { ...vm, exists: () => false });
  assert.match(after(l2.args, '-object').join(' '), /"quote-generation-socket":\{"type":"vsock","cid":"2","port":"4050"\}/);
});

test('SNP: sev-snp-guest with cbitpos, reduced-phys-bits, kernel-hashes, decimal policy, 32-byte HOST_DATA, EPYC-v4', () => {
  const l = qemuCommandLine(cfg('snp', { firmware: '/opt/ovmf/AMDSEV.fd', snp_cbitpos: 51 }), vm);
  assert.equal(after(l.args, '-machine')[0], 'q35,accel=kvm,kernel_irqchip=split,confidential-guest-support=snp');
  const hostData = initdata.digest.subarray(0, 32).toString('base64'); // sha384 truncated to 32
  assert.ok(after(l.args, '-object').includes(`sev-snp-guest,id=snp,cbitpos=51,reduced-phys-bits=1,kernel-hashes=on,policy=196608,host-data=${hostData}`));
  assert.deepEqual(after(l.args, '-cpu'), ['EPYC-v4,pmu=off']);
  assert.deepEqual(after(l.args, '-bios'), ['/opt/ovmf/AMDSEV.fd']);
  assert.deepEqual(after(l.args, '-kernel'), ['/k/vmlinuz']);
  const withId = qemuCommandLine(cfg('snp', { firmware: '/f', snp_id_block: 'QUJD', snp_id_auth: 'REVG' }), { ...vm, initdata: undefined as never });
  assert.ok(after(withId.args, '-object').includes('sev-snp-guest,id=snp,cbitpos=51,reduced-phys-bits=1,kernel-hashes=on,id-block=QUJD,id-auth=REVG,policy=196608'));
});

test('SE: s390-ccw-virtio with s390-pv-guest, SE boot image as kernel, no -append/-bios, CCW devices', () => {
  const c = parseConfig({ hypervisor: { qemu: { tee: 'se', kernel: '/opt/kata/kata-containers-se.img' } } }).hypervisor as QemuConfig;
  const l = qemuCommandLine(c, vm);
  assert.equal(l.binary, 'qemu-system-s390x');
  assert.deepEqual(after(l.args, '-machine'), ['s390-ccw-virtio,accel=kvm,confidential-guest-support=pv0']);
  assert.deepEqual(after(l.args, '-object'), ['s390-pv-guest,id=pv0']);
  assert.deepEqual(after(l.args, '-kernel'), ['/opt/kata/kata-containers-se.img']);
  assert.ok(!l.args.includes('-append') && !l.args.includes('-bios'));
  assert.ok(after(l.args, '-device').includes('virtio-blk-ccw,drive=initdata,devno=fe.0.0005'));
  assert.ok(after(l.args, '-device').some((d) => d.startsWith('vhost-vsock-ccw,')));
});

test('none under TCG: no TEE object, max CPU, verity root params, virtio-serial agent port, initdata disk', () => {
  const l = qemuCommandLine(cfg('none', { accel: 'tcg', agent_channel: 'virtio-serial', guest_forwards: ['10.0.2.100:5000=127.0.0.1:5000'] }), vm);
  assert.deepEqual(after(l.args, '-machine'), ['q35,accel=tcg']);
  assert.deepEqual(after(l.args, '-cpu'), ['max,pmu=off']);
  assert.ok(!l.args.some((a) => a.includes('tdx-guest') || a.includes('sev-snp-guest')));
  const append = after(l.args, '-append')[0] as string;
  assert.match(append, /^tsc=reliable no_timer_check .* pci=lastbus=0 dm-mod.create="dm-verity,,,ro,0 8192 verity 1 \/dev\/vda1 \/dev\/vda2 4096 4096 1024 0 sha256 7abc0995\S+ 6b6174612d6363" root=\/dev\/dm-0 rootflags=data=ordered,errors=remount-ro ro rootfstype=ext4 /);
  assert.match(append, /agent.server_addr=vport:\/\/agent.0/);
  assert.deepEqual(l.agent, { kind: 'unix', path: '/run/kata-cc/sbs/abc/agent.sock' });
  assert.ok(after(l.args, '-device').includes('virtserialport,bus=serial0.0,chardev=charagent0,id=channel0,name=agent.0'));
  assert.ok(after(l.args, '-drive').includes('id=initdata,file=/run/kata-cc/sbs/abc/initdata.img,aio=threads,format=raw,if=none,readonly=on'));
  assert.deepEqual(after(l.args, '-netdev'), ['user,id=net0,restrict=on,guestfwd=tcp:10.0.2.100:5000-tcp:127.0.0.1:5000']);
  assert.ok(!l.args.includes('kvm-pit.lost_tick_policy=discard'));
});

test('the kernel command line is byte-stable and configuration params come last', () => {
  const c = cfg('none', { accel: 'tcg', kernel_params: 'agent.log=debug lpj=9780000' });
  const a = after(qemuCommandLine(c, vm).args, '-append')[0] as string;
  const b = after(qemuCommandLine(c, { ...vm, uuid: 'other' }).args, '-append')[0] as string;
  assert.equal(a, b);
  assert.ok(a.endsWith(' agent.log=debug lpj=9780000'));
});

test('vsock agent channel: vhost-vsock-pci with the VM guest CID, agent endpoint on port 1024; random CIDs avoid 0-2 and CID_ANY', async () => {
  const { randomGuestCid } = await import('./qemu.js');
  for (let i = 0; i < 1000; i++) {
    const c = randomGuestCid();
    assert.ok(Number.isInteger(c) && c >= 3 && c < 0xffffffff);
  }
  const l = qemuCommandLine(cfg('none', { accel: 'tcg', agent_channel: 'vsock' }), { ...vm, vsockCid: 123456 });
  assert.deepEqual(l.agent, { kind: 'vsock', cid: 123456, port: 1024 });
  assert.ok(after(l.args, '-device').includes('vhost-vsock-pci,disable-modern=false,id=vsock-123456,guest-cid=123456'));
  assert.match(after(l.args, '-append')[0] ?? '', /agent\.server_addr=vsock:\/\/-1:1024/);
});
