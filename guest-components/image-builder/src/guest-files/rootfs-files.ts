/**
 * Text files of the guest root filesystem. busybox init is PID 1 (it reaps orphans, which Node
 * cannot); it runs rcS once and keeps the kata-agent running.
 */
export const INITTAB = `::sysinit:/etc/kata-cc/rcS
::respawn:/etc/kata-cc/agent.sh
::ctrlaltdel:/sbin/poweroff -f
`;

/** Mounts, cgroup v2, loopback and (when the command line says so) a static eth0. */
export const RCS = `#!/bin/sh
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
up() { cut -d' ' -f1 /proc/uptime; }
arg() { tr ' ' '\\n' < /proc/cmdline | sed -n "s/^$1=//p" | tail -1; }
mount -t proc proc /proc; mount -t sysfs sysfs /sys
mkdir -p /dev/pts /dev/shm /dev/mqueue
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts /dev/pts; mount -t tmpfs -o nosuid,nodev shm /dev/shm
mount -t mqueue mqueue /dev/mqueue 2>/dev/null
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run; mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
echo "+cpu +memory +pids +io" > /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null
ln -sf /proc/self/fd /dev/fd; ln -sf /proc/self/fd/0 /dev/stdin; ln -sf /proc/self/fd/1 /dev/stdout; ln -sf /proc/self/fd/2 /dev/stderr
H=$(arg kata_cc.hostname); hostname "\${H:-kata-cc}"
ip link set lo up
IP=$(arg kata_cc.ip); GW=$(arg kata_cc.gw); DNS=$(arg kata_cc.dns)
if [ -n "$IP" ] && [ -e /sys/class/net/eth0 ]; then
  ip link set eth0 up; ip addr add "$IP" dev eth0
  # virtio-net reports NO-CARRIER right after "link up": wait, or the first connect fails
  for i in $(seq 1 100); do [ "$(cat /sys/class/net/eth0/carrier 2>/dev/null)" = 1 ] && break; sleep 0.05; done
  [ -n "$GW" ] && ip route add default via "$GW"
fi
[ -n "$DNS" ] && echo "nameserver $DNS" > /run/resolv.conf
echo "MARK rcS $(up)"
`;

/** Runs the agent in the foreground (busybox init respawns it if it dies). */
export const AGENT_SH = `#!/bin/sh
export PATH=/bin:/sbin:/usr/bin:/usr/sbin:/usr/local/bin
export NODE_OPTIONS=--max-old-space-size=256 UV_THREADPOOL_SIZE=8
# --jitless: under TCG, V8's generated code invalidates QEMU's translation blocks; the
# interpreter alone starts the agent faster (the agent is I/O bound).
exec /usr/bin/node --jitless /opt/kata-cc/bin/kata-agent.mjs
`;

/** Launcher for a bundled guest component at kata's path (/usr/local/bin/<name>). */
export function launcher(bundle: string): string {
  return `#!/bin/sh\nexec /usr/bin/node /opt/kata-cc/bin/${bundle} "$@"\n`;
}

export const HOSTS = '127.0.0.1 localhost\n::1 localhost\n';
export const PASSWD = 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n';
export const GROUP = 'root:x:0:\nnogroup:x:65534:\n';

/** The baked default agent policy (kata's allow-all): initdata's policy.rego or SetPolicy replace it. */
export const DEFAULT_POLICY = `package agent_policy

default AddARPNeighborsRequest := true
default AddSwapRequest := true
default CloseStdinRequest := true
default CopyFileRequest := true
default CreateContainerRequest := true
default CreateSandboxRequest := true
default DestroySandboxRequest := true
default ExecProcessRequest := true
default GetMetricsRequest := true
default GetOOMEventRequest := true
default GuestDetailsRequest := true
default ListInterfacesRequest := true
default ListRoutesRequest := true
default MemHotplugByProbeRequest := true
default OnlineCPUMemRequest := true
default PauseContainerRequest := true
default PullImageRequest := true
default ReadStreamRequest := true
default RemoveContainerRequest := true
default RemoveStaleVirtiofsShareMountsRequest := true
default ReseedRandomDevRequest := true
default ResumeContainerRequest := true
default SetGuestDateTimeRequest := true
default SetPolicyRequest := true
default SignalProcessRequest := true
default StartContainerRequest := true
default StartTracingRequest := true
default StatsContainerRequest := true
default StopTracingRequest := true
default TtyWinResizeRequest := true
default UpdateContainerRequest := true
default UpdateEphemeralMountsRequest := true
default UpdateInterfaceRequest := true
default UpdateRoutesRequest := true
default WaitProcessRequest := true
default WriteStreamRequest := true
default GetDiagnosticDataRequest := true
default MemAgentCompactConfig := true
default MemAgentMemcgConfig := true
`;
