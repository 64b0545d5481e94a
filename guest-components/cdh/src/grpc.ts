import grpc from '@grpc/grpc-js';
import { isKccError } from '@kata-cc/errors';
import type { Logger } from '@kata-cc/log';
import { grpcCodeOfKind } from '@kata-cc/ttrpc';
import type { ConfidentialDataHub } from './hub.js';
import { cdhType } from './ttrpc.js';

/** guest-components' grpc-cdh default address; ocicrypt_config.json `{"grpc": "127.0.0.1:50000"}`. */
export const DEFAULT_KEYPROVIDER_GRPC = '127.0.0.1:50000';

type KpMsg = { KeyProviderKeyWrapProtocolInput: Buffer };
type KpOut = { KeyProviderKeyWrapProtocolOutput: Uint8Array };

/**
 * Serves `keyprovider.KeyProviderService` over gRPC (ocicrypt's keyprovider protocol, what
 * image-rs and ocicrypt's `grpc` key provider call). Returns the bound address.
 */
export async function serveKeyProviderGrpc(hub: ConfidentialDataHub, address: string, logger: Logger): Promise<{ server: grpc.Server; address: string }> {
  const input = cdhType<KpMsg>('keyprovider.keyProviderKeyWrapProtocolInput');
  const output = cdhType<KpOut>('keyprovider.keyProviderKeyWrapProtocolOutput');
  const method = (name: string) => ({
    path: `/keyprovider.KeyProviderService/${name}`,
    requestStream: false,
    responseStream: false,
    requestSerialize: (m: KpMsg) => Buffer.from(input.encode(m)),
    requestDeserialize: (b: Buffer) => input.decode(b),
    responseSerialize: (m: KpOut) => Buffer.from(output.encode(m)),
    responseDeserialize: (b: Buffer) => output.decode(b),
  });
  const handler = (call: grpc.ServerUnaryCall<KpMsg, KpOut>, cb: grpc.sendUnaryData<KpOut>): void => {
    hub.unwrapKeyJson(call.request.KeyProviderKeyWrapProtocolInput).then(
      (out) => cb(null, { KeyProviderKeyWrapProtocolOutput: out }),
      (err: unknown) => {
        const code = isKccError(err) ? grpcCodeOfKind(err.kind) : grpc.status.INTERNAL;
        logger.warn({ code: isKccError(err) ? err.code : undefined, err: err instanceof Error ? err.message : String(err) }, 'keyprovider UnWrapKey failed');
        cb({ code, details: err instanceof Error ? err.message : String(err) });
      },
    );
  };
  const server = new grpc.Server();
  server.addService({ UnWrapKey: method('UnWrapKey'), WrapKey: method('WrapKey') } as unknown as grpc.ServiceDefinition, { UnWrapKey: handler, WrapKey: handler });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  const bound = address.startsWith('unix:') ? address : address.replace(/:\d+$/, `:${port}`);
  return { server, address: bound };
}
