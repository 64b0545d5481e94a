import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { KccError } from '@kata-cc/errors';
import { silentLogger, type Logger } from '@kata-cc/log';
import { applyAnnotations, createHypervisor, type Hypervisor, type RuntimeConfig, type VmExit } from '@kata-cc/hypervisor';
import { AgentClient } from './agent-client.js';
import { toAgentSpec } from './oci.js';
import { CRI_CONTAINER_TYPE, CRI_IMAGE_NAME, guestPullStorage, guestRootfsPath } from './storage.js';

export interface SandboxOptions {
  id: string;
  config: RuntimeConfig;
  /** The sandbox container's OCI annotations (pod annotations filtered by containerd). */
  annotations: Record<string, string>;
  hostname?: string;
  logger?: Logger;
  /** Aborting stops the VM while it boots, so an interrupted start leaves no QEMU behind. */
  signal?: AbortSignal;
}

/** Millisecond timestamps of the start phases (benchmark, logs). */
export interface SandboxTimings {
  begin: number;
  vmSpawned?: number;
  agentReady?: number;
  sandboxCreated?: number;
}

/**
 * Where per-sandbox state lives on the host: `<state_dir>/sbs/<first 16 hex of sha256(id)>`.
 * Hashed because CRI ids are 64 hex digits and the sockets inside (agent, QMP) must fit the
 * 108-byte Unix socket path limit.
 */
export function sandboxDir(config: RuntimeConfig, id: string): string {
  return path.join(config.runtime.stateDir, 'sbs', createHash('sha256').update(id).digest('hex').slice(0, 16));
}

const FILE_MOUNT_MAX = 1 << 20;

/** kata's pod annotation carrying an agent policy (base64 Rego) that the runtime sends with SetPolicy. */
export const AGENT_POLICY_ANNOTATION = 'io.katacontainers.config.agent.policy';
const AGENT_POLICY_MAX = 4 << 20;

/**
 * The Rego text of the agent policy annotation, or undefined without one. Standard base64, as
 * kata's runtime decodes it; a gzip stream inside is unpacked (genpolicy can emit one).
 */
export function agentPolicyFromAnnotations(annotations: Record<string, string>): string | undefined {
  const value = annotations[AGENT_POLICY_ANNOTATION];
  if (value === undefined) return undefined;
  const invalid = (why: string, cause?: unknown): KccError => new KccError({ kind: 'INVALID_ARGUMENT', code: 'SANDBOX_AGENT_POLICY_INVALID', message: `Annotation "${AGENT_POLICY_ANNOTATION}" ${why}`, cause, details: { annotation: AGENT_POLICY_ANNOTATION } });
  const b64 = value.replace(/\s+/g, '');
  if (b64 === '' || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.length % 4 !== 0) throw invalid('is not standard base64');
  let bytes = Buffer.from(b64, 'base64');
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes, { maxOutputLength: AGENT_POLICY_MAX });
    } catch (cause) {
      throw invalid('holds a gzip stream that does not decompress (or exceeds 4 MiB)', cause);
    }
  }
  if (bytes.length > AGENT_POLICY_MAX) throw invalid('exceeds 4 MiB');
  return bytes.toString('utf8');
}

async function setAgentPolicy(agent: AgentClient, policy: string): Promise<void> {
  try {
    await agent.call('SetPolicy', { policy });
  } catch (cause) {
    const agentCode = cause instanceof KccError ? cause.code : 'UNKNOWN';
    throw new KccError({
      kind: cause instanceof KccError ? cause.kind : 'INTERNAL',
      code: 'SANDBOX_SET_POLICY_FAILED',
      message: `The agent refused the policy of annotation "${AGENT_POLICY_ANNOTATION}" (SetPolicy): ${(cause as Error).message}`,
      cause,
      details: { agentCode },
    });
  }
}

/**
 * One pod VM: the hypervisor plus the agent connection. Containers are created through it;
 * their processes and stdio are driven by the shim over `agent`.
 */
export class Sandbox {
  readonly id: string;
  readonly agent: AgentClient;
  readonly #hv: Hypervisor;
  readonly #config: RuntimeConfig;
  readonly #log: Logger;
  readonly timings: SandboxTimings;
  #destroyed = false;

  private constructor(id: string, hv: Hypervisor, agent: AgentClient, config: RuntimeConfig, log: Logger, timings: SandboxTimings) {
    this.id = id;
    this.#hv = hv;
    this.agent = agent;
    this.#config = config;
    this.#log = log;
    this.timings = timings;
  }

  /** Boots the VM, waits for the agent, and sends CreateSandbox. Tears the VM down on failure. */
  static async create(o: SandboxOptions): Promise<Sandbox> {
    const timings: SandboxTimings = { begin: Date.now() };
    const log = (o.logger ?? silentLogger).child({ component: 'sandbox', sandbox: o.id });
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(o.id)) {
      throw new KccError({ kind: 'INVALID_ARGUMENT', code: 'SANDBOX_INVALID_ID', message: `Invalid sandbox id "${o.id.slice(0, 80)}"` });
    }
    const overrides = applyAnnotations(o.config.hypervisor, o.annotations);
    // Decoded before anything starts: a malformed annotation boots no VM.
    const agentPolicy = agentPolicyFromAnnotations(o.annotations);
    if (path.join(sandboxDir(o.config, o.id), 'console.sock').length > 107) {
      throw new KccError({ kind: 'INVALID_ARGUMENT', code: 'SANDBOX_STATE_DIR_TOO_LONG', message: `runtime.state_dir "${o.config.runtime.stateDir}" is too long for Unix socket paths (keep it under 60 characters)` });
    }
    const hv = createHypervisor(overrides.hypervisor, { id: o.id, dir: sandboxDir(o.config, o.id), ...(overrides.initdata ? { initdata: overrides.initdata } : {}) }, { logger: log });
    // Stopping the VM makes the pending start or dial fail, and the catch below reports it.
    const onAbort = (): void => void hv.stop().catch(() => undefined);
    o.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (o.signal?.aborted) throw new KccError({ kind: 'FAILED_PRECONDITION', code: 'SANDBOX_ABORTED', message: `Sandbox "${o.id}" start was aborted` });
      await hv.start();
      timings.vmSpawned = hv.timings.spawned ?? Date.now();
      const agent = await AgentClient.dial(hv.agent, {
        dialTimeoutMs: o.config.agent.dialTimeoutMs,
        requestTimeoutMs: o.config.agent.requestTimeoutMs,
        onDead: hv.exited,
        logger: log,
      }).catch(async (err: unknown) => {
        // Say why the guest never answered: its console is the only witness.
        const exit = await Promise.race([hv.exited, new Promise<undefined>((r) => setTimeout(() => r(undefined), 50))]);
        if (err instanceof KccError) {
          const why = exit ? ` (VM exited: ${exit.reason.split('\n').slice(-3).join(' | ')})` : '';
          throw new KccError({ kind: err.kind, code: err.code, message: `${err.message}${why}`, cause: err, ...(err.details ? { details: err.details } : {}) });
        }
        throw err;
      });
      timings.agentReady = Date.now();
      // As kata's runtime: the annotation's policy goes to the agent after Check and before
      // CreateSandbox. The guest decides (its measured initdata policy may forbid SetPolicy);
      // a refusal fails the sandbox, and the catch below stops the VM and removes its state.
      if (agentPolicy !== undefined) await setAgentPolicy(agent, agentPolicy);
      await agent.call('CreateSandbox', { hostname: o.hostname ?? '', dns: [], storages: [], sandbox_pidns: false, sandbox_id: o.id, guest_hook_path: '', kernel_modules: [] });
      timings.sandboxCreated = Date.now();
      log.info({ pid: hv.pid, ms: timings.sandboxCreated - timings.begin }, 'sandbox ready');
      return new Sandbox(o.id, hv, agent, o.config, log, timings);
    } catch (err) {
      await hv.stop().catch(() => undefined);
      if (o.signal?.aborted) throw new KccError({ kind: 'FAILED_PRECONDITION', code: 'SANDBOX_ABORTED', message: `Sandbox "${o.id}" start was aborted`, cause: err });
      throw err;
    } finally {
      o.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** VMM pid: what the Task API reports as the task pid (guest pids are invisible to the host). */
  get pid(): number {
    return this.#hv.pid ?? 0;
  }

  get vmExited(): Promise<VmExit> {
    return this.#hv.exited;
  }

  get commandLine(): readonly string[] {
    return this.#hv.commandLine;
  }

  /**
   * CreateContainer in the guest: rootfs by guest pull (never the host snapshot), small file
   * bind mounts (/etc/hosts, resolv.conf, …) copied in with CopyFile, other host mounts dropped.
   */
  async createContainer(containerId: string, spec: Record<string, unknown>): Promise<void> {
    const annotations = (spec['annotations'] ?? {}) as Record<string, string>;
    const isSandbox = annotations[CRI_CONTAINER_TYPE] === 'sandbox';
    const imageRef = isSandbox ? 'pause' : annotations[CRI_IMAGE_NAME];
    if (!imageRef) {
      throw new KccError({
        kind: 'INVALID_ARGUMENT',
        code: 'SANDBOX_NO_IMAGE_REFERENCE',
        message: `Container "${containerId}" has no "${CRI_IMAGE_NAME}" annotation: kata-cc pulls images inside the guest and never shares the host rootfs (with ctr, pass --annotation ${CRI_IMAGE_NAME}=<ref>)`,
      });
    }
    const mounts: Array<{ destination: string; source: string; type: string; options: string[] }> = [];
    for (const m of (spec['mounts'] ?? []) as Array<Record<string, unknown>>) {
      const type = String(m['type'] ?? '');
      const source = String(m['source'] ?? '');
      const destination = String(m['destination'] ?? '');
      const options = (m['options'] ?? []) as string[];
      if (type !== 'bind' && !options.includes('bind') && !options.includes('rbind')) {
        mounts.push({ destination, source, type, options });
        continue;
      }
      const st = await stat(source).catch(() => undefined);
      if (st?.isFile() && st.size <= FILE_MOUNT_MAX) {
        const guestPath = `/run/kata-containers/shared/containers/${containerId}-${path.basename(destination)}`;
        const data = await readFile(source);
        await this.agent.call('CopyFile', { path: guestPath, file_size: data.length, file_mode: 0o100644, dir_mode: 0o40755, uid: 0, gid: 0, offset: 0, data });
        mounts.push({ destination, source: guestPath, type: 'bind', options });
      } else {
        this.#log.warn({ destination }, 'dropping host bind mount: host directories are not shared with a confidential guest');
      }
    }
    const storage = guestPullStorage(containerId, imageRef, annotations);
    const oci = toAgentSpec(spec, { rootPath: guestRootfsPath(containerId), mounts });
    await this.agent.call('CreateContainer', {
      container_id: containerId,
      exec_id: containerId,
      storages: [storage],
      devices: [],
      OCI: oci,
      sandbox_pidns: false,
      shared_mounts: [],
    }, this.#config.agent.createContainerTimeoutMs);
  }

  /** DestroySandbox (best effort: the VM is going away anyway), stop the VM, remove its state. */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    await this.agent.call('DestroySandbox', {}, 5000).catch((err: unknown) => this.#log.debug({ err }, 'DestroySandbox failed'));
    this.agent.close();
    await this.#hv.stop();
  }
}
