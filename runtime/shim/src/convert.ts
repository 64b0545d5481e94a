import type { Msg } from './protos.js';

type Tbl = Record<string, unknown>;
const t = (v: unknown): Tbl => (v !== null && typeof v === 'object' ? (v as Tbl) : {});
const n = (v: unknown): number => Number(v ?? 0);

/**
 * The agent's StatsContainerResponse (kata `CgroupStats`) as the cgroups v1 `Metrics` message
 * containerd decodes from a Task Stats answer (what kata's shim does in `marshalMetrics`).
 */
export function cgroupsV1Metrics(r: Msg): Msg {
  const cg = t(r['cgroup_stats']);
  const cpu = t(t(cg['cpu_stats'])['cpu_usage']);
  const thr = t(t(cg['cpu_stats'])['throttling_data']);
  const mem = t(cg['memory_stats']);
  const mu = t(mem['usage']);
  const pids = t(cg['pids_stats']);
  return {
    pids: { current: n(pids['current']), limit: n(pids['limit']) },
    cpu: {
      usage: { total: n(cpu['total_usage']), kernel: n(cpu['usage_in_kernelmode']), user: n(cpu['usage_in_usermode']), per_cpu: (cpu['percpu_usage'] ?? []) as number[] },
      throttling: { periods: n(thr['periods']), throttled_periods: n(thr['throttled_periods']), throttled_time: n(thr['throttled_time']) },
    },
    memory: { cache: n(mem['cache']), usage: { usage: n(mu['usage']), max: n(mu['max_usage']), failcnt: n(mu['failcnt']), limit: n(mu['limit']) } },
  };
}

/**
 * Task Update's `resources` (an Any holding OCI LinuxResources JSON) as the agent's
 * `grpc.LinuxResources` (memory limit and CPU shares/quota/period/cpus; TEEs never hotplug).
 */
export function agentResources(any: { value?: Buffer } | undefined): Msg {
  const text = Buffer.from(any?.value ?? Buffer.from('{}')).toString('utf8') || '{}';
  const r = JSON.parse(text) as { memory?: { limit?: number }; cpu?: { shares?: number; quota?: number; period?: number; cpus?: string } };
  const out: Msg = {};
  if (r.memory?.limit !== undefined) out['Memory'] = { Limit: r.memory.limit };
  if (r.cpu) out['CPU'] = { Shares: r.cpu.shares ?? 0, Quota: r.cpu.quota ?? 0, Period: r.cpu.period ?? 0, Cpus: r.cpu.cpus ?? '' };
  return out;
}
