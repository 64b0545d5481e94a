/**
 * @kata-cc/kbs-types: KBS protocol 0.4.0 wire types, TEE names, canonical JSON and report_data binding.
 */
export {};
