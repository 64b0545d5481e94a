/**
 * @kata-cc/attester: Attester interface and one folder per TEE.
 */
export {};
