import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KObject } from './deploy-kustomize.js';

/**
 * Runs the first container of a rendered Deployment as a local process the way the kubelet
 * would set it up: Secret volumes become files, emptyDirs empty directories, envFrom/env are
 * resolved from the rendered ConfigMaps and Secrets, and $(VAR) in args is expanded. Only the
 * mount paths are moved under `dir` (no mount namespace here). What it proves: the manifests'
 * flags, files and variables are what the real binary accepts.
 */
export interface SimulatedPod {
  readonly proc: ChildProcess;
  readonly args: string[];
  readonly env: Record<string, string>;
  output(): string;
  stop(): Promise<void>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

export function runContainer(objs: KObject[], deployment: string, dir: string, command: string[], override: { env?: Record<string, string>; listen?: string } = {}): SimulatedPod {
  const dep = objs.find((o) => o.kind === 'Deployment' && o.metadata.name === deployment) as Any;
  const spec = dep.spec.template.spec;
  const c = spec.containers[0];
  const byName = (kind: string, name: string): Any => objs.find((o) => o.kind === kind && o.metadata.name === name);
  const mounts = new Map<string, string>();
  for (const m of c.volumeMounts ?? []) {
    const vol = spec.volumes.find((v: Any) => v.name === m.name);
    const local = path.join(dir, 'mounts', m.name);
    mkdirSync(local, { recursive: true });
    if (vol.secret) {
      const secret = byName('Secret', vol.secret.secretName);
      if (!secret) throw new Error(`volume ${m.name}: Secret ${vol.secret.secretName} is not rendered`);
      for (const [k, v] of Object.entries(secret.data as Record<string, string>)) writeFileSync(path.join(local, k), Buffer.from(v, 'base64'));
    } else if (!vol.emptyDir) throw new Error(`volume ${m.name}: only secret and emptyDir volumes are simulated`);
    mounts.set(m.mountPath, local);
  }
  const env: Record<string, string> = {};
  for (const from of c.envFrom ?? []) Object.assign(env, byName('ConfigMap', from.configMapRef.name).data);
  for (const e of c.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value;
    else if (e.valueFrom?.secretKeyRef) env[e.name] = Buffer.from(byName('Secret', e.valueFrom.secretKeyRef.name).data[e.valueFrom.secretKeyRef.key], 'base64').toString();
    else throw new Error(`env ${e.name}: unsupported source`);
  }
  Object.assign(env, override.env ?? {});
  // One pass, longest mount path first, only where a path starts (after start, = or :).
  const escaped = [...mounts.keys()].sort((a, b) => b.length - a.length).map((m) => m.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'));
  const pattern = new RegExp(`(^|[=:])(${escaped.join('|')})(?=/|$)`, 'g');
  const remap = (s: string): string => (mounts.size === 0 ? s : s.replace(pattern, (_m, pre: string, mp: string) => `${pre}${mounts.get(mp) ?? mp}`));
  const args = (c.args as string[]).map((a) => remap(a.replace(/\$\(([A-Z_][A-Z0-9_]*)\)/g, (_m, v: string) => env[v] ?? `$(${v})`)))
    .map((a) => (override.listen !== undefined && a.startsWith('--listen=') ? `--listen=${override.listen}` : a));
  const localEnv = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, remap(v)]));
  let out = '';
  const proc = spawn(command[0] as string, [...command.slice(1), ...args], { env: { ...process.env, ...localEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  return {
    proc,
    args,
    env: localEnv,
    output: () => out,
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      for (let i = 0; i < 50 && proc.exitCode === null && proc.signalCode === null; i++) await sleep(100);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    },
  };
}
