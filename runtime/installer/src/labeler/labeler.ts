/** Node labels the installer sets: RuntimeClass nodeSelectors match on them. */
export const LABEL_RUNTIME = 'kata-cc.io/runtime';
export const LABEL_TEE = 'kata-cc.io/tee';
/** Set to "true" only on nodes with a TEE: the default `kata-cc` RuntimeClass requires it. */
export const LABEL_CC_READY = 'kata-cc.io/cc-ready';

/**
 * Sets or removes (value null) labels on a Kubernetes node. One implementation talks to the
 * API server with the pod's service account; tests inject their own.
 */
export interface NodeLabeler {
  setLabels(node: string, labels: Record<string, string | null>): Promise<void>;
}

/** Used outside a cluster (or with --no-label): labels are not touched. */
export const noLabeler: NodeLabeler = {
  setLabels: async () => {},
};
