/** The TEE names of the KBS protocol: the `Tee` of @kata-cc/kbs-types, re-exported for attesters. */
export type { Tee } from '@kata-cc/kbs-types';
