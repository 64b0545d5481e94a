/**
 * The hypervisor seam: one VM per sandbox. Implementations live in one folder each (`qemu/`,
 * `fake/`) and are picked by the exhaustive switch in `registry.ts`.
 */
import type { AgentEndpoint } from './qemu/cmdline.js';
import type { Initdata } from './initdata.js';

export type { AgentEndpoint } from './qemu/cmdline.js';

/** How the VM process ended. */
export interface VmExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Last lines of the VMM's own log (stderr) and of the guest console, for error messages. */
  reason: string;
}

/** What a sandbox asks of a VM. */
export interface VmRequest {
  /** Sandbox id (64-hex from CRI, any safe name otherwise). */
  id: string;
  /** Per-VM state directory; created by `start`, removed by `stop`. */
  dir: string;
  initdata?: Initdata;
}

/** Timestamps (ms since epoch) of launch phases, for the benchmark and logs. */
export interface VmTimings {
  spawned?: number;
  ready?: number;
}

export interface Hypervisor {
  /** The agent endpoint the guest will serve on; known before `start`. */
  readonly agent: AgentEndpoint;
  /** Spawns the VM and resolves once its agent endpoint can be dialled (guest may still boot). Rejects with HV_* errors. */
  start(): Promise<void>;
  /** VMM process id once started (the Task API's `pid`). */
  readonly pid: number | undefined;
  /** Resolves when the VMM process exits, whoever caused it. */
  readonly exited: Promise<VmExit>;
  /** Stops the VMM (TERM, then KILL after a grace period) and removes `dir`. Idempotent. */
  stop(): Promise<void>;
  /** The argv used (for logs, `kata-cc run --dry-run`, and tests). */
  readonly commandLine: readonly string[];
  readonly timings: VmTimings;
}
