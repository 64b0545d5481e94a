/**
 * @kata-cc/kbs-client: KBS protocol client: RCAR handshake, token cache, resource fetch.
 */
export {};
