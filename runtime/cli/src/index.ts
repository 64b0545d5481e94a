/**
 * @kata-cc/kata-cc: The kata-cc command line.
 */
export {};
