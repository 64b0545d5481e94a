/**
 * @kata-cc/hypervisor: Hypervisor interface and drivers (qemu with tdx/snp/se/none profiles, fake).
 */
export {};
