/**
 * @kata-cc/verifier: Verifier interface and one folder per TEE.
 */
export {};
