/**
 * @kata-cc/tests: Cross-package and end-to-end tests against real peers.
 */
export {};
