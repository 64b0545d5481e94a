import { loadProtos } from '@kata-cc/protocols';
import { protobufCodec, unaryMethod, type ProtobufType, type TtrpcServer } from '@kata-cc/ttrpc';
import type { AttestationAgent } from './service.js';

/** The fully qualified ttRPC service name of the AA API. */
export const AA_SERVICE = 'attestation_agent.AttestationAgentService';

/** The AA API default socket (guest-components `ttrpc-aa`). */
export const DEFAULT_AA_SOCKET = 'unix:///run/confidential-containers/attestation-agent/attestation-agent.sock';

let root: ReturnType<typeof loadProtos> | undefined;

/** Codec of one AA proto message type. */
export function aaType<T>(name: string): ReturnType<typeof protobufCodec<T>> {
  root ??= loadProtos('attestation-agent/attestation-agent.proto');
  return protobufCodec<T>(root.lookupType(`attestation_agent.${name}`) as unknown as ProtobufType);
}

/** Registers every AA method on a ttRPC server (decoding requests, calling the service). */
export function registerAttestationAgentService(server: TtrpcServer, aa: AttestationAgent): void {
  server.register(AA_SERVICE, {
    GetEvidence: unaryMethod({
      requestType: aaType<{ RuntimeData: Buffer }>('GetEvidenceRequest'),
      responseType: aaType<{ Evidence: Uint8Array }>('GetEvidenceResponse'),
      handler: async (req) => ({ Evidence: await aa.getEvidence(req.RuntimeData) }),
    }),
    GetAdditionalEvidence: unaryMethod({
      requestType: aaType<{ RuntimeData: Buffer }>('GetAdditionalEvidenceRequest'),
      responseType: aaType<{ Evidence: Uint8Array }>('GetEvidenceResponse'),
      handler: async (req) => ({ Evidence: await aa.getAdditionalEvidence(req.RuntimeData) }),
    }),
    GetToken: unaryMethod({
      requestType: aaType<{ TokenType: string }>('GetTokenRequest'),
      responseType: aaType<{ Token: Uint8Array }>('GetTokenResponse'),
      handler: async (req) => ({ Token: await aa.getToken(req.TokenType) }),
    }),
    ExtendRuntimeMeasurement: unaryMethod({
      requestType: aaType<{ Domain: string; Operation: string; Content: string; RegisterIndex?: number | null }>('ExtendRuntimeMeasurementRequest'),
      responseType: aaType<Record<string, never>>('ExtendRuntimeMeasurementResponse'),
      handler: async (req) => {
        const pcr = req.RegisterIndex === undefined || req.RegisterIndex === null ? undefined : Number(req.RegisterIndex);
        await aa.extendRuntimeMeasurement({ domain: req.Domain, operation: req.Operation, content: req.Content }, pcr);
        return {};
      },
    }),
    BindInitData: unaryMethod({
      requestType: aaType<{ Digest: Buffer }>('BindInitDataRequest'),
      responseType: aaType<Record<string, never>>('BindInitDataResponse'),
      handler: async (req) => {
        await aa.bindInitData(req.Digest);
        return {};
      },
    }),
    GetTeeType: unaryMethod({
      requestType: aaType<Record<string, never>>('GetTeeTypeRequest'),
      responseType: aaType<{ tee: string }>('GetTeeTypeResponse'),
      handler: async () => ({ tee: aa.tee }),
    }),
    GetAdditionalTees: unaryMethod({
      requestType: aaType<Record<string, never>>('GetAdditionalTeesRequest'),
      responseType: aaType<{ additional_tees: string[] }>('GetAdditionalTeesResponse'),
      handler: async () => ({ additional_tees: aa.getAdditionalTees() }),
    }),
  });
}
