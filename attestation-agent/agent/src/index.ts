/**
 * @kata-cc/attestation-agent: The attestation agent service (AA API) and its binary.
 */
export {};
