/**
 * @kata-cc/kata-cc: the `kata-cc` command (`check`, `run`). `run` starts the KBS and the guest
 * image builder as processes (the host never imports them) and drives the guest through
 * @kata-cc/sandbox.
 */
export { checkCommand } from './check.js';
export type { CheckCommandOptions } from './check.js';
export { RUN_KEY_RESOURCE, guestReachable, runImage, runInitdata } from './run.js';
export type { RunOptions } from './run.js';
export { programPaths, repoRoot } from './paths.js';
export { KEYPROVIDER_ANNOTATION, encryptionKeyIds, splitReference } from './image-keys.js';
