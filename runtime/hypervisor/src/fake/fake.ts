import { existsSync } from 'node:fs';
import path from 'node:path';
import { KccError } from '@kata-cc/errors';
import { silentLogger, type Logger } from '@kata-cc/log';
import type { FakeHypervisorConfig } from '../config.js';
import type { AgentEndpoint, Hypervisor, VmExit, VmRequest, VmTimings } from '../hypervisor.js';
import { VmmProcess, makeVmDir, reapVmDir } from '../process.js';

/**
 * A fake hypervisor for hosts without a usable VMM in tests: the "VM" is a host process
 * (`guest_command` + the agent socket path) that serves the agent API. It has a real pid that
 * can be killed, so the shim's fault handling is exercised; nothing is isolated.
 */
export class FakeHypervisor implements Hypervisor {
  readonly #cfg: FakeHypervisorConfig;
  readonly #vm: VmRequest;
  readonly #proc: VmmProcess;
  readonly agent: AgentEndpoint;
  readonly timings: VmTimings = {};

  constructor(cfg: FakeHypervisorConfig, vm: VmRequest, deps: { logger?: Logger } = {}) {
    if (cfg.guestCommand.length === 0) {
      throw new KccError({ kind: 'INVALID_ARGUMENT', code: 'HV_CONFIG_MISSING', message: 'Missing configuration key "hypervisor.fake.guest_command"', details: { key: 'hypervisor.fake.guest_command' } });
    }
    this.#cfg = cfg;
    this.#vm = vm;
    this.#proc = new VmmProcess(vm.dir, (deps.logger ?? silentLogger).child({ component: 'fake-hypervisor', sandbox: vm.id }));
    this.agent = { kind: 'unix', path: path.join(vm.dir, 'agent.sock') };
  }

  get pid(): number | undefined {
    return this.#proc.pid;
  }

  get exited(): Promise<VmExit> {
    return this.#proc.exited;
  }

  get commandLine(): readonly string[] {
    return [...this.#cfg.guestCommand, this.#agentPath];
  }

  get #agentPath(): string {
    return this.agent.kind === 'unix' ? this.agent.path : '';
  }

  async start(): Promise<void> {
    await makeVmDir(this.#vm.dir);
    const [bin, ...args] = this.#cfg.guestCommand as [string, ...string[]];
    await this.#proc.spawn(bin, [...args, this.#agentPath], undefined);
    this.timings.spawned = Date.now();
    await this.#proc.waitFor(() => existsSync(this.#agentPath), 10_000, 'the fake guest created its agent socket');
    this.timings.ready = Date.now();
  }

  async stop(): Promise<void> {
    await this.#proc.stop();
    await reapVmDir(this.#vm.dir);
  }
}
