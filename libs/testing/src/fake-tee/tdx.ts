/**
 * FAKE Intel TDX hardware and DCAP collateral, signed by a TEST CA. There is no TDX machine
 * here, so this module plays Intel's roles with keys generated in the test: a root CA
 * (ECDSA P-256), a PCK Platform CA, a PCK certificate per fake platform carrying the SGX
 * extension (OID 1.2.840.113741.1.13.1: PPID, TCB with 16 SVNs + PCESVN + CPUSVN, PCE-ID,
 * FMSPC, SGX type), a Quoting Enclave whose report (signed by the PCK key) binds an attestation
 * key with report_data = SHA-256(AK || QE auth data) || 0^32, v4 quotes signed by that AK
 * (certification data type 6 wrapping type 5, the PEM chain), and in-date collateral in the
 * QuoteCollateralV3 shape (TCB info v3, TD_QE identity v2, PCK CRL, root CA CRL) signed by a
 * test "Intel SGX TCB Signing" certificate under the test root. Nothing here chains to Intel:
 * a verifier accepts it only when pointed at this root with its `trustAnchors` option.
 */
import { createHash, randomBytes, sign } from 'node:crypto';
import { int, octets, oid, seq, tlv } from './der.js';
import { basicConstraintsCa, dn, ecKey, issueCrl, issueCert, keyUsage, window, type FakeCert, type Issuer, type KeyPair } from './ca.js';

const ORG = 'kata-cc TEST CA (not Intel)';
const name = (cn: string): Buffer => dn([['CN', cn], ['O', ORG], ['L', 'Santa Clara'], ['ST', 'CA'], ['C', 'US']]);
/** Intel's QE vendor ID, as real quotes carry it (policies check it). */
export const INTEL_QE_VENDOR_ID = '939a7233f79c4ca9940a0db3957f0607';
const SGX = '1.2.840.113741.1.13.1';

export interface FakeTdxCa {
  readonly root: FakeCert;
  readonly pckCa: FakeCert;
  readonly tcbSigning: FakeCert;
  /** The root PEM: the value of TDX `trustAnchors`. */
  readonly trustAnchorPem: string;
  readonly rootIssuer: Issuer;
  readonly pckCaIssuer: Issuer;
  readonly tcbSigningKey: KeyPair;
}

export function fakeTdxCa(): FakeTdxCa {
  const rootKey = ecKey('P-256');
  const rootName = name('kata-cc TEST SGX Root CA');
  const rootIssuer: Issuer = { name: rootName, key: rootKey.privateKey, alg: 'ecdsa-sha256' };
  const v = window(3650);
  const caExts = [basicConstraintsCa(), keyUsage(0x06)];
  const root = issueCert({ subject: rootName, publicKey: rootKey.publicKey, issuer: rootIssuer, ...v, extensions: caExts });
  const pckKey = ecKey('P-256');
  // "Platform CA" in the name: the verifier picks the PCS CRL type (platform/processor) from it.
  const pckName = name('kata-cc TEST SGX PCK Platform CA');
  const pckCa = issueCert({ subject: pckName, publicKey: pckKey.publicKey, issuer: rootIssuer, ...v, extensions: caExts });
  const tcbKey = ecKey('P-256');
  // The verifier accepts collateral only from a certificate named exactly "Intel SGX TCB Signing".
  const tcbSigning = issueCert({ subject: dn([['CN', 'Intel SGX TCB Signing'], ['O', ORG], ['C', 'US']]), publicKey: tcbKey.publicKey, issuer: rootIssuer, ...v, extensions: [keyUsage(0xc0)] });
  return { root, pckCa, tcbSigning, trustAnchorPem: root.pem, rootIssuer, pckCaIssuer: { name: pckName, key: pckKey.privateKey, alg: 'ecdsa-sha256' }, tcbSigningKey: tcbKey };
}

export interface FakeTdxPlatformOptions {
  ca?: FakeTdxCa;
  /** 6 bytes hex; default 00806f050000 (a Sapphire Rapids FMSPC). */
  fmspc?: string;
  pceId?: string;
  pceSvn?: number;
  /** The 16 SGX TCB component SVNs of the PCK certificate. */
  sgxComponents?: readonly number[];
  /** TEE_TCB_SVN (16 bytes); byte 1 (module major version) stays 0 here. */
  teeTcbSvn?: readonly number[];
  mrTd?: Uint8Array;
  rtmr?: readonly [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  mrConfigId?: Uint8Array;
  /** td_attributes (8 bytes); bit 0 = DEBUG. Default 0x10000000 (SEPT_VE_DISABLE). */
  tdAttributes?: Uint8Array;
  xfam?: Uint8Array;
  qeSvn?: number;
}

export interface FakeTdxPlatform {
  readonly ca: FakeTdxCa;
  readonly pck: FakeCert;
  readonly fmspc: string;
  readonly pceId: string;
  readonly pceSvn: number;
  readonly sgxComponents: readonly number[];
  readonly teeTcbSvn: readonly number[];
  readonly mrTd: Uint8Array;
  readonly rtmr: readonly [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  readonly xfam: Uint8Array;
  readonly qeMrSigner: Uint8Array;
  readonly qeSvn: number;
  /** A signed v4 quote carrying `reportData` (zero-padded to 64 bytes). */
  quote(reportData: Uint8Array): Uint8Array;
  /** Wire evidence `{quote: base64, cc_eventlog: null}`. */
  evidence(reportData: Uint8Array): { quote: string; cc_eventlog: null };
}

const h48 = (s: string): Buffer => createHash('sha384').update(s).digest();

function sgxExtension(p: { ppid: Buffer; comps: readonly number[]; pceSvn: number; cpuSvn: Buffer; pceId: string; fmspc: string }): Buffer {
  const item = (n: string, v: Buffer): Buffer => seq(oid(`${SGX}.${n}`), v);
  const tcb = seq(
    ...p.comps.map((c, i) => item(`2.${i + 1}`, int(c))),
    item('2.17', int(p.pceSvn)),
    item('2.18', octets(p.cpuSvn)),
  );
  return seq(
    item('1', octets(p.ppid)),
    item('2', tcb),
    item('3', octets(Buffer.from(p.pceId, 'hex'))),
    item('4', octets(Buffer.from(p.fmspc, 'hex'))),
    item('5', tlv(0x0a, Buffer.from([0]))), // SGX type: Standard (ENUMERATED)
  );
}

export function fakeTdxPlatform(o: FakeTdxPlatformOptions = {}): FakeTdxPlatform {
  const ca = o.ca ?? fakeTdxCa();
  const fmspc = (o.fmspc ?? '00806f050000').toLowerCase();
  const pceId = o.pceId ?? '0000';
  const pceSvn = o.pceSvn ?? 13;
  const sgxComponents = o.sgxComponents ?? [3, 3, 2, 2, 4, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0];
  const teeTcbSvn = o.teeTcbSvn ?? [5, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
  const mrTd = o.mrTd ?? h48('fake td mrtd');
  const rtmr = o.rtmr ?? ([h48('rtmr0'), h48('rtmr1'), h48('rtmr2'), new Uint8Array(48)] as const);
  const xfam = o.xfam ?? Buffer.from('e702060000000000', 'hex');
  const tdAttributes = o.tdAttributes ?? Buffer.from('0000001000000000', 'hex');
  const qeSvn = o.qeSvn ?? 4;
  const pckKey = ecKey('P-256');
  const pck = issueCert({
    subject: name('Intel SGX PCK Certificate'),
    publicKey: pckKey.publicKey,
    issuer: ca.pckCaIssuer,
    ...window(365 * 7),
    extensions: [keyUsage(0xc0), { oid: SGX, value: sgxExtension({ ppid: randomBytes(16), comps: sgxComponents, pceSvn, cpuSvn: Buffer.from(sgxComponents), pceId, fmspc }) }],
  });
  const chainPem = Buffer.from(pck.pem + ca.pckCa.pem + ca.root.pem, 'latin1');
  const qeMrSigner = createHash('sha256').update('fake TD quoting enclave signer').digest();
  const qeMrEnclave = createHash('sha256').update('fake TD quoting enclave').digest();
  const ak = ecKey('P-256');
  const akJwk = ak.publicKey.export({ format: 'jwk' });
  const akRaw = Buffer.concat([Buffer.from(akJwk.x ?? '', 'base64url'), Buffer.from(akJwk.y ?? '', 'base64url')]);
  const qeAuth = randomBytes(32);
  // The QE report: an SGX REPORT body whose report_data binds the attestation key.
  const qeReport = Buffer.alloc(384);
  Buffer.from(sgxComponents).copy(qeReport, 0); // cpu_svn
  Buffer.from('11000000000000000000000000000000', 'hex').copy(qeReport, 48); // attributes: INIT | MODE64BIT
  qeMrEnclave.copy(qeReport, 64);
  qeMrSigner.copy(qeReport, 128);
  qeReport.writeUInt16LE(2, 256); // isv_prod_id: TD_QE
  qeReport.writeUInt16LE(qeSvn, 258);
  createHash('sha256').update(akRaw).update(qeAuth).digest().copy(qeReport, 320);
  const qeReportSig = sign('sha256', qeReport, { key: pckKey.privateKey, dsaEncoding: 'ieee-p1363' });

  const quote = (reportData: Uint8Array): Uint8Array => {
    if (reportData.length > 64) throw new Error('report_data is at most 64 bytes');
    const header = Buffer.alloc(48);
    header.writeUInt16LE(4, 0);
    header.writeUInt16LE(2, 2); // ECDSA-256 with P-256
    header.writeUInt32LE(0x81, 4); // TDX
    Buffer.from(INTEL_QE_VENDOR_ID, 'hex').copy(header, 12);
    randomBytes(20).copy(header, 28); // user_data: QE identifier
    const body = Buffer.alloc(584);
    Buffer.from(teeTcbSvn).copy(body, 0);
    // mr_seam (16) left as a hash; mrsigner_seam zero (Intel-signed module), seam attributes zero.
    h48('fake tdx module').copy(body, 16);
    Buffer.from(tdAttributes).copy(body, 120);
    Buffer.from(xfam).copy(body, 128);
    Buffer.from(mrTd).copy(body, 136);
    if (o.mrConfigId) Buffer.from(o.mrConfigId).copy(body, 184);
    rtmr.forEach((r, i) => Buffer.from(r).copy(body, 328 + i * 48));
    Buffer.from(reportData).copy(body, 520);
    const signed = Buffer.concat([header, body]);
    const sig = sign('sha256', signed, { key: ak.privateKey, dsaEncoding: 'ieee-p1363' });
    const u16 = (n: number): Buffer => Buffer.from([n & 0xff, n >> 8]);
    const u32 = (n: number): Buffer => {
      const b = Buffer.alloc(4);
      b.writeUInt32LE(n);
      return b;
    };
    const inner = Buffer.concat([u16(5), u32(chainPem.length), chainPem]);
    const qeData = Buffer.concat([qeReport, qeReportSig, u16(qeAuth.length), qeAuth, inner]);
    const sigData = Buffer.concat([sig, akRaw, u16(6), u32(qeData.length), qeData]);
    return Buffer.concat([signed, u32(sigData.length), sigData]);
  };

  return {
    ca, pck, fmspc, pceId, pceSvn, sgxComponents, teeTcbSvn, mrTd, rtmr, xfam, qeMrSigner, qeSvn, quote,
    evidence: (rd) => ({ quote: Buffer.from(quote(rd)).toString('base64'), cc_eventlog: null }),
  };
}

export interface FakeTdxCollateralOptions {
  /**
   * `current` (default): the platform's TCB is the newest level, UpToDate. `outdated`: a newer
   * level exists above the platform, whose own level is OutOfDate with `advisoryIds`.
   */
  tcb?: 'current' | 'outdated';
  advisoryIds?: readonly string[];
  /** PCK certificate serials listed in the PCK CRL. */
  revokedPckSerials?: readonly bigint[];
  /** Validity of the TCB info / QE identity / CRLs from now (days). Default 30. */
  days?: number;
  now?: Date;
}

/** The QuoteCollateralV3 JSON object (snake_case, CRLs and signatures hex), ready to write to a file. */
export interface FakeTdxCollateral {
  readonly json: Record<string, string>;
  readonly tcbInfo: Record<string, unknown>;
  readonly qeIdentity: Record<string, unknown>;
}

function p1363Hex(key: KeyPair, text: string): string {
  return sign('sha256', Buffer.from(text, 'utf8'), { key: key.privateKey, dsaEncoding: 'ieee-p1363' }).toString('hex');
}

/** Collateral for `platform` (its FMSPC, PCE ID, SVNs and QE), signed by the platform's test CA. */
export function fakeTdxCollateral(platform: FakeTdxPlatform, o: FakeTdxCollateralOptions = {}): FakeTdxCollateral {
  const ca = platform.ca;
  const now = o.now ?? new Date();
  const issueDate = new Date(now.getTime() - 3_600_000);
  const nextUpdate = new Date(now.getTime() + (o.days ?? 30) * 86_400_000);
  const iso = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const svns = (a: readonly number[]): { svn: number }[] => a.map((svn) => ({ svn }));
  const bump = (a: readonly number[]): number[] => a.map((x, i) => (i === 0 ? x + 1 : x));
  const platformLevel = { sgxtcbcomponents: svns(platform.sgxComponents), pcesvn: platform.pceSvn, tdxtcbcomponents: svns(platform.teeTcbSvn) };
  const advisoryIDs = [...(o.advisoryIds ?? ['INTEL-SA-00837', 'INTEL-SA-00960'])];
  const levels = o.tcb === 'outdated'
    ? [
        { tcb: { ...platformLevel, tdxtcbcomponents: svns(bump(platform.teeTcbSvn)) }, tcbDate: iso(issueDate), tcbStatus: 'UpToDate' },
        { tcb: platformLevel, tcbDate: '2023-08-09T00:00:00Z', tcbStatus: 'OutOfDate', advisoryIDs },
      ]
    : [
        { tcb: platformLevel, tcbDate: '2024-03-13T00:00:00Z', tcbStatus: 'UpToDate' },
        { tcb: { ...platformLevel, tdxtcbcomponents: svns(platform.teeTcbSvn.map((x, i) => (i === 0 ? Math.max(0, x - 1) : x))) }, tcbDate: '2023-08-09T00:00:00Z', tcbStatus: 'OutOfDate', advisoryIDs },
      ];
  const tcbInfo = {
    id: 'TDX', version: 3, issueDate: iso(issueDate), nextUpdate: iso(nextUpdate), fmspc: platform.fmspc.toUpperCase(), pceId: platform.pceId,
    tcbType: 0, tcbEvaluationDataNumber: 17,
    tdxModule: { mrsigner: '00'.repeat(48), attributes: '0000000000000000', attributesMask: 'FFFFFFFFFFFFFFFF' },
    tcbLevels: levels,
  };
  const qeIdentity = {
    id: 'TD_QE', version: 2, issueDate: iso(issueDate), nextUpdate: iso(nextUpdate), tcbEvaluationDataNumber: 17,
    miscselect: '00000000', miscselectMask: 'FFFFFFFF', attributes: '11000000000000000000000000000000', attributesMask: 'FBFFFFFFFFFFFFFF0000000000000000',
    mrsigner: Buffer.from(platform.qeMrSigner).toString('hex').toUpperCase(), isvprodid: 2,
    tcbLevels: [{ tcb: { isvsvn: platform.qeSvn }, tcbDate: '2024-03-13T00:00:00Z', tcbStatus: 'UpToDate' }],
  };
  const tcbText = JSON.stringify(tcbInfo);
  const qeText = JSON.stringify(qeIdentity);
  const crlWindow = { thisUpdate: issueDate, nextUpdate };
  const pckCrl = issueCrl({ issuer: ca.pckCaIssuer, ...crlWindow, revokedSerials: o.revokedPckSerials ?? [] });
  const rootCrl = issueCrl({ issuer: ca.rootIssuer, ...crlWindow });
  const signingChain = ca.tcbSigning.pem + ca.root.pem;
  return {
    tcbInfo,
    qeIdentity,
    json: {
      version: '3.1',
      tee_type: '0x81',
      pck_crl_issuer_chain: ca.pckCa.pem + ca.root.pem,
      root_ca_crl: rootCrl.toString('hex'),
      pck_crl: pckCrl.toString('hex'),
      tcb_info_issuer_chain: signingChain,
      tcb_info: `{"tcbInfo":${tcbText},"signature":"${p1363Hex(ca.tcbSigningKey, tcbText)}"}`,
      qe_identity_issuer_chain: signingChain,
      qe_identity: `{"enclaveIdentity":${qeText},"signature":"${p1363Hex(ca.tcbSigningKey, qeText)}"}`,
    },
  };
}
