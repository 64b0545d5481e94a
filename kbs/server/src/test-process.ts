/**
 * The real `kbs` binary as a process, for bench/kbs.bench.mjs (which loads it from this
 * package's dist/): the one helper in @kata-cc/testing, shared with kbs/cli and tests/.
 */
export { KBS_BIN, startKbsProcess, type KbsProcess, type KbsProcessOptions } from '@kata-cc/testing';
