import type { Logger } from '@kata-cc/log';
import type { HypervisorConfig } from './config.js';
import type { Hypervisor, VmRequest } from './hypervisor.js';
import { FakeHypervisor } from './fake/fake.js';
import { QemuHypervisor } from './qemu/qemu.js';

/** Picks the implementation for a validated configuration (one case per hypervisor). */
export function createHypervisor(config: HypervisorConfig, vm: VmRequest, deps: { logger?: Logger } = {}): Hypervisor {
  switch (config.type) {
    case 'qemu':
      return new QemuHypervisor(config, vm, deps);
    case 'fake':
      return new FakeHypervisor(config, vm, deps);
  }
}
