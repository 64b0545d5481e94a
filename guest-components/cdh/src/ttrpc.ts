import { loadProtos } from '@kata-cc/protocols';
import { protobufCodec, unaryMethod, type MessageCodec, type ProtobufType, type TtrpcServer } from '@kata-cc/ttrpc';
import type { ConfidentialDataHub } from './hub.js';

let root: ReturnType<typeof loadProtos> | undefined;

/** Codec of a CDH or keyprovider proto message (`api.GetResourceRequest`, `keyprovider.keyProviderKeyWrapProtocolInput`). */
export function cdhType<T>(fullName: string): MessageCodec<T> {
  root ??= loadProtos('confidential-data-hub/api.proto', 'keyprovider/keyprovider.proto');
  return protobufCodec<T>(root.lookupType(fullName) as unknown as ProtobufType);
}

type KpMsg = { KeyProviderKeyWrapProtocolInput: Buffer };
type KpOut = { KeyProviderKeyWrapProtocolOutput: Uint8Array };

/**
 * Registers the CDH API on one ttRPC server, as guest-components' ttrpc-cdh serves it on one
 * socket: SealedSecretService, GetResourceService, SecureMountService, ImagePullService and
 * keyprovider.KeyProviderService.
 */
export function registerCdhServices(server: TtrpcServer, hub: ConfidentialDataHub): void {
  server.register('api.SealedSecretService', {
    UnsealSecret: unaryMethod({
      requestType: cdhType<{ secret: Buffer }>('api.UnsealSecretInput'),
      responseType: cdhType<{ plaintext: Uint8Array }>('api.UnsealSecretOutput'),
      handler: async (req) => ({ plaintext: await hub.unsealSecret(req.secret) }),
    }),
  });
  server.register('api.GetResourceService', {
    GetResource: unaryMethod({
      requestType: cdhType<{ ResourcePath: string }>('api.GetResourceRequest'),
      responseType: cdhType<{ Resource: Uint8Array }>('api.GetResourceResponse'),
      handler: async (req) => ({ Resource: await hub.getResource(req.ResourcePath) }),
    }),
  });
  server.register('api.SecureMountService', {
    SecureMount: unaryMethod({
      requestType: cdhType<{ volume_type: string }>('api.SecureMountRequest'),
      responseType: cdhType<Record<string, never>>('api.SecureMountResponse'),
      handler: async (req) => hub.secureMount(req.volume_type),
    }),
  });
  server.register('api.ImagePullService', {
    PullImage: unaryMethod({
      requestType: cdhType<{ image_url: string; bundle_path: string }>('api.ImagePullRequest'),
      responseType: cdhType<{ manifest_digest: string }>('api.ImagePullResponse'),
      handler: async (req) => ({ manifest_digest: await hub.pullImage(req.image_url, req.bundle_path) }),
    }),
  });
  server.register('keyprovider.KeyProviderService', {
    UnWrapKey: unaryMethod({
      requestType: cdhType<KpMsg>('keyprovider.keyProviderKeyWrapProtocolInput'),
      responseType: cdhType<KpOut>('keyprovider.keyProviderKeyWrapProtocolOutput'),
      handler: async (req) => ({ KeyProviderKeyWrapProtocolOutput: await hub.unwrapKeyJson(req.KeyProviderKeyWrapProtocolInput) }),
    }),
    WrapKey: unaryMethod({
      requestType: cdhType<KpMsg>('keyprovider.keyProviderKeyWrapProtocolInput'),
      responseType: cdhType<KpOut>('keyprovider.keyProviderKeyWrapProtocolOutput'),
      handler: async (req) => ({ KeyProviderKeyWrapProtocolOutput: await hub.unwrapKeyJson(req.KeyProviderKeyWrapProtocolInput) }),
    }),
  });
}
