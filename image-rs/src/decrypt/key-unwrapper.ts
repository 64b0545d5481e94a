/**
 * The seam the CDH plugs into: ocicrypt's keyprovider `UnWrapKey`. Given the provider name
 * (`org.opencontainers.image.enc.keys.provider.<name>`) and the annotation bytes, returns
 * `optsdata` (the PrivateLayerBlockCipherOptions JSON). Implementations: the gRPC client in
 * this package, or the CDH in-process (no network hop).
 */
export interface KeyUnwrapper {
  unwrapKey(request: UnwrapRequest): Promise<Uint8Array>;
}

export interface UnwrapRequest {
  provider: string;
  annotation: Uint8Array;
  /** DecryptConfig parameters for this provider (ocicrypt `dc.Parameters[<provider>]`). */
  parameters?: Uint8Array[];
}
