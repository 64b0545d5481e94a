import { randomInt, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { silentLogger, type Logger } from '@kata-cc/log';
import type { QemuConfig } from '../config.js';
import type { Hypervisor, VmExit, VmRequest, VmTimings } from '../hypervisor.js';
import { initdataDiskImage } from '../initdata.js';
import { VmmProcess, makeVmDir, reapVmDir } from '../process.js';
import { qemuCommandLine, type AgentEndpoint, type QemuLaunch } from './cmdline.js';

export interface QemuDeps {
  logger?: Logger;
  /** How long QEMU may take to create its sockets. */
  startTimeoutMs?: number;
}

/** QEMU, one process per sandbox, built from a validated `QemuConfig`. */
export class QemuHypervisor implements Hypervisor {
  readonly #cfg: QemuConfig;
  readonly #vm: VmRequest;
  readonly #launch: QemuLaunch;
  readonly #proc: VmmProcess;
  readonly #log: Logger;
  readonly #startTimeoutMs: number;
  readonly timings: VmTimings = {};

  constructor(cfg: QemuConfig, vm: VmRequest, deps: QemuDeps = {}) {
    this.#cfg = cfg;
    this.#vm = vm;
    this.#log = (deps.logger ?? silentLogger).child({ component: 'qemu', sandbox: vm.id });
    this.#startTimeoutMs = deps.startTimeoutMs ?? 10_000;
    const initdataImage = vm.initdata ? path.join(vm.dir, 'initdata.img') : undefined;
    this.#launch = qemuCommandLine(cfg, {
      id: vm.id,
      uuid: randomUUID(),
      dir: vm.dir,
      ...(vm.initdata ? { initdata: vm.initdata } : {}),
      ...(initdataImage ? { initdataImage } : {}),
      exists: existsSync,
      ...(cfg.agentChannel === 'vsock' ? { vsockCid: randomGuestCid() } : {}),
    });
    this.#proc = new VmmProcess(vm.dir, this.#log);
  }

  get agent(): AgentEndpoint {
    return this.#launch.agent;
  }

  get pid(): number | undefined {
    return this.#proc.pid;
  }

  get exited(): Promise<VmExit> {
    return this.#proc.exited;
  }

  get commandLine(): readonly string[] {
    return [this.#launch.binary, ...this.#launch.args];
  }

  /** Guest console files (for boot diagnostics and the benchmark's MARK lines). */
  get consoleFiles(): { console: string; serial?: string } {
    return { console: this.#launch.files.console, ...(this.#launch.files.serial ? { serial: this.#launch.files.serial } : {}) };
  }

  async start(): Promise<void> {
    await makeVmDir(this.#vm.dir);
    if (this.#vm.initdata) await writeFile(path.join(this.#vm.dir, 'initdata.img'), initdataDiskImage(this.#vm.initdata), { mode: 0o600 });
    this.#log.info({ argv: this.commandLine }, 'starting QEMU');
    await this.#proc.spawn(this.#launch.binary, this.#launch.args, this.#launch.files.serial ?? this.#launch.files.console);
    this.timings.spawned = Date.now();
    const agent = this.#launch.agent;
    // QEMU creates its server sockets before the guest runs: once they exist it is up.
    await this.#proc.waitFor(() => existsSync(this.#launch.files.qmp) && (agent.kind !== 'unix' || existsSync(agent.path)), this.#startTimeoutMs, 'QEMU created its sockets');
    this.timings.ready = Date.now();
  }

  async stop(): Promise<void> {
    await this.#proc.stop();
    await reapVmDir(this.#vm.dir);
  }

  /** The profile this VM runs. */
  get profile(): QemuConfig['profile'] {
    return this.#cfg.profile;
  }
}

/**
 * A guest CID for `vhost-vsock-pci,guest-cid=N`, unique per VM on the host: random in
 * [3, 2^32-2] (0-2 are reserved, 2^32-1 is VMADDR_CID_ANY), as kata's FindContextID starts from a
 * random CID. A collision (~n/2^32) makes QEMU fail to start ("unable to set guest cid").
 */
export function randomGuestCid(): number {
  return 3 + randomInt(0, 0xffffffff - 3);
}
