import { KccError } from '@kata-cc/errors';
import { parseVerityParams } from './config-load.js';
import type { HypervisorConfig } from './config.js';
import { decodeInitdata, type Initdata } from './initdata.js';

const HV_PREFIX = 'io.katacontainers.config.hypervisor.';

/** What the pod's annotations change for one sandbox. */
export interface SandboxOverrides {
  hypervisor: HypervisorConfig;
  initdata?: Initdata;
}

/**
 * Applies `io.katacontainers.config.hypervisor.*` annotations to a copy of the configuration.
 * Only keys listed in `enable_annotations` are honoured (kata's rule): the host is untrusted, but
 * a settings change it makes must at least be one the operator allowed, and for TEEs every
 * such change (kernel params, initdata) shows up in the launch measurement.
 */
export function applyAnnotations(base: HypervisorConfig, annotations: Record<string, string>): SandboxOverrides {
  const hv = structuredClone(base);
  const out: SandboxOverrides = { hypervisor: hv };
  for (const [name, value] of Object.entries(annotations)) {
    if (!name.startsWith(HV_PREFIX)) continue;
    const key = name.slice(HV_PREFIX.length);
    if (!hv.enableAnnotations.includes(key)) {
      throw new KccError({ kind: 'PERMISSION_DENIED', code: 'HV_ANNOTATION_NOT_ALLOWED', message: `Annotation "${name}" is not enabled in enable_annotations`, details: { annotation: name } });
    }
    const int = (min: number, max: number): number => {
      const n = Number(value);
      if (!Number.isInteger(n) || n < min || n > max) throw new KccError({ kind: 'INVALID_ARGUMENT', code: 'HV_ANNOTATION_INVALID', message: `Annotation "${name}" must be an integer in ${min}..${max}`, details: { annotation: name } });
      return n;
    };
    switch (key) {
      case 'kernel_params':
        hv.kernelParams = [...hv.kernelParams, ...value.split(/\s+/).filter(Boolean)];
        break;
      case 'default_vcpus':
        hv.vcpus = int(1, 256);
        break;
      case 'default_memory':
        hv.memoryMiB = int(128, 1 << 20);
        break;
      case 'kernel_verity_params':
        if (hv.type === 'qemu') hv.verity = parseVerityParams(value, name);
        break;
      case 'cc_init_data':
        out.initdata = decodeInitdata(value);
        break;
      case 'enable_iommu':
        break; // accepted as kata does; no IOMMU device is emitted for TEE guests here
      default:
        throw new KccError({ kind: 'INVALID_ARGUMENT', code: 'HV_ANNOTATION_UNKNOWN', message: `Annotation "${name}" is not supported`, details: { annotation: name } });
    }
  }
  return out;
}
