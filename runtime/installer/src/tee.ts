import { readFile } from 'node:fs/promises';
import path from 'node:path';

/** The TEE a node can launch guests with (host side), as the installer labels it. */
export type NodeTee = 'tdx' | 'snp' | 'se' | 'none';
export const NODE_TEES: readonly NodeTee[] = ['tdx', 'snp', 'se', 'none'];

async function flag(root: string, file: string): Promise<boolean> {
  try {
    const v = (await readFile(path.join(root, file), 'utf8')).trim();
    return v === 'Y' || v === 'y' || v === '1';
  } catch {
    return false;
  }
}

/**
 * Detects host TEE support from the host's sysfs (mounted under `root`): KVM module
 * parameters for TDX and SEV-SNP, the ultravisor flag for IBM Secure Execution. This is the
 * capability to *launch* confidential guests, which is what a runtime handler needs.
 */
export async function detectNodeTee(root: string): Promise<NodeTee> {
  if (await flag(root, 'sys/module/kvm_intel/parameters/tdx')) return 'tdx';
  if (await flag(root, 'sys/module/kvm_amd/parameters/sev_snp')) return 'snp';
  if (await flag(root, 'sys/firmware/uv/prot_virt_host')) return 'se';
  return 'none';
}

/** The payload configuration the default `kata-cc` handler uses on a node with this TEE. */
export function configFileForTee(tee: NodeTee): string {
  return `configuration-${tee === 'none' ? 'dev' : tee}.toml`;
}
