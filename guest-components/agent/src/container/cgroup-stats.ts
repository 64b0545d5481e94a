import { readFile } from 'node:fs/promises';
import path from 'node:path';

async function read(dir: string, file: string): Promise<string> {
  return readFile(path.join(dir, file), 'utf8').catch(() => '');
}

function kv(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^\d+$/.test(v)) out[k] = Number(v);
  }
  return out;
}

const num = (s: string): number => (/^\d+/.test(s.trim()) ? Number(s.trim()) : 0);

/** kata's CgroupStats from a cgroup v2 directory (usage in ns, as kata reports from v2). */
export async function cgroupStats(dir: string): Promise<Record<string, unknown>> {
  const cpu = kv(await read(dir, 'cpu.stat'));
  const memStat = kv(await read(dir, 'memory.stat'));
  const memEvents = kv(await read(dir, 'memory.events'));
  const maxRaw = (await read(dir, 'memory.max')).trim();
  const pidsMax = (await read(dir, 'pids.max')).trim();
  return {
    cpu_stats: {
      cpu_usage: {
        total_usage: (cpu['usage_usec'] ?? 0) * 1000,
        percpu_usage: [],
        usage_in_kernelmode: (cpu['system_usec'] ?? 0) * 1000,
        usage_in_usermode: (cpu['user_usec'] ?? 0) * 1000,
      },
      throttling_data: { periods: cpu['nr_periods'] ?? 0, throttled_periods: cpu['nr_throttled'] ?? 0, throttled_time: (cpu['throttled_usec'] ?? 0) * 1000 },
    },
    memory_stats: {
      cache: memStat['file'] ?? 0,
      usage: { usage: num(await read(dir, 'memory.current')), max_usage: num(await read(dir, 'memory.peak')), failcnt: memEvents['max'] ?? 0, limit: /^\d+$/.test(maxRaw) ? Number(maxRaw) : 0 },
      swap_usage: { usage: num(await read(dir, 'memory.swap.current')), max_usage: 0, failcnt: 0, limit: 0 },
      kernel_usage: { usage: memStat['kernel'] ?? 0, max_usage: 0, failcnt: 0, limit: 0 },
      use_hierarchy: true,
      stats: memStat,
    },
    pids_stats: { current: num(await read(dir, 'pids.current')), limit: /^\d+$/.test(pidsMax) ? Number(pidsMax) : 0 },
  };
}

/** The `oom_kill` counter of memory.events: it grows when the kernel OOM-kills in the cgroup. */
export async function oomKills(dir: string): Promise<number> {
  return kv(await read(dir, 'memory.events'))['oom_kill'] ?? 0;
}

/** Interface counters from /proc/net/dev (containers share the VM's network namespace). */
export async function networkStats(): Promise<Record<string, unknown>[]> {
  const text = await readFile('/proc/net/dev', 'utf8').catch(() => '');
  return text.split('\n').slice(2).filter((l) => l.includes(':')).map((l) => {
    const [name, rest] = l.split(':');
    const f = (rest ?? '').trim().split(/\s+/).map(Number);
    return { name: (name ?? '').trim(), rx_bytes: f[0], rx_packets: f[1], rx_errors: f[2], rx_dropped: f[3], tx_bytes: f[8], tx_packets: f[9], tx_errors: f[10], tx_dropped: f[11] };
  }).filter((n) => n.name !== 'lo');
}
