/**
 * /init of the initramfs (busybox sh, PID 1). The kernel has no dm-init (no dm-mod.create=), so
 * userland veritysetup opens the root: the root hash comes from the measured kernel command line,
 * so a rootfs byte that differs from the build fails the read (dm-verity), and a different
 * root hash is a different measurement.
 */
export const INITRAMFS_INIT = `#!/bin/sh
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
up() { cut -d' ' -f1 /proc/uptime; }
arg() { tr ' ' '\\n' < /proc/cmdline | sed -n "s/^$1=//p" | tail -1; }
fail() { echo "kata-cc initramfs: $*"; echo "MARK fail $(up)"; sleep 1; poweroff -f; }
echo "MARK initramfs $(up)"
for m in $(cat /lib/modules.order); do insmod /lib/modules/$m.ko 2>/dev/null || echo "kata-cc initramfs: insmod $m failed"; done
echo "MARK modules $(up)"
RH=$(arg kata_cc.roothash); HOFF=$(arg kata_cc.hashoffset)
[ -n "$RH" ] && [ -n "$HOFF" ] || fail "kata_cc.roothash / kata_cc.hashoffset missing from the kernel command line"
OK=
for i in $(seq 1 50); do
  for d in /dev/vd?; do
    [ -b "$d" ] || continue
    veritysetup open "$d" kcc-root "$d" "$RH" --hash-offset "$HOFF" 2>/dev/null && OK=$d && break
  done
  [ -n "$OK" ] && break; sleep 0.1
done
[ -n "$OK" ] || fail "no disk opens with dm-verity root hash $RH"
mkdir -p /newroot
mount -t erofs -o ro /dev/mapper/kcc-root /newroot || fail "cannot mount the verity root from $OK"
echo "MARK verity $(up) $OK"
mount --move /dev /newroot/dev
umount /proc /sys
exec switch_root /newroot /sbin/init
`;
