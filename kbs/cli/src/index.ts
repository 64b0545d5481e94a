/**
 * @kata-cc/kbs-cli: kbs-cli: the KBS admin command line.
 */
export {};
