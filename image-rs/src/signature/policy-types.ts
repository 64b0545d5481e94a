/** containers-policy.json(5) v1 shapes (the parts image-rs enforces). */
export type SignedIdentity =
  | { type: 'matchExact' }
  | { type: 'matchRepoDigestOrExact' }
  | { type: 'matchRepository' }
  | { type: 'exactReference'; dockerReference: string }
  | { type: 'exactRepository'; dockerRepository: string }
  | { type: 'remapIdentity'; prefix: string; signedPrefix: string };

export type PolicyRequirement =
  | { type: 'insecureAcceptAnything' }
  | { type: 'reject' }
  | { type: 'signedBy'; keyType: 'GPGKeys'; keyPath?: string; keyPaths?: string[]; keyData?: string; signedIdentity?: SignedIdentity }
  | { type: 'sigstoreSigned'; keyPath?: string; keyData?: string; signedIdentity?: SignedIdentity };

export interface Policy {
  default: PolicyRequirement[];
  transports?: Record<string, Record<string, PolicyRequirement[]>>;
}
