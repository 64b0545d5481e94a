import { fileURLToPath } from 'node:url';

/** The compiled fake guest entry point, for `[hypervisor.fake] guest_command`. */
export const FAKE_AGENT_MAIN = fileURLToPath(new URL('./main.js', import.meta.url));
