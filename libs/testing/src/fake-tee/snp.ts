/**
 * FAKE AMD SEV-SNP hardware, signed by a TEST CA. There is no SEV-SNP machine here, so this
 * module plays AMD's roles with keys generated in the test: an ARK (RSA 4096, RSASSA-PSS/SHA-384
 * like AMD's), an ASK and an ASVK under it, a VCEK (ECDSA P-384) per fake chip carrying AMD's
 * VCEK extensions (struct version, product name, bl/tee/snp/ucode(/fmc) SPLs, hwID = chip_id),
 * and the AMD-SP's job: binary ATTESTATION_REPORTs (v3 or v5) signed with the VCEK over bytes
 * 0x000-0x29F, r and s little-endian in 72-byte fields. Nothing here chains to AMD: a verifier
 * accepts it only when pointed at this CA with its `trustAnchors` option.
 */
import { createHash, randomBytes, sign } from 'node:crypto';
import { ia5, int, octets } from './der.js';
import { basicConstraintsCa, dn, ecKey, issueCert, issueCrl, keyUsage, rsaKey, window, type FakeCert, type Issuer, type KeyPair } from './ca.js';

export type SnpGeneration = 'Milan' | 'Genoa' | 'Turin';

export interface SnpTcb {
  readonly bootloader: number;
  readonly tee: number;
  readonly snp: number;
  readonly microcode: number;
  /** Turin only. */
  readonly fmc?: number;
}

/** The fake AMD key hierarchy of one processor generation. */
export interface FakeSnpCa {
  readonly generation: SnpGeneration;
  readonly ark: FakeCert;
  readonly ask: FakeCert;
  readonly asvk: FakeCert;
  /** ASK, ARK, ASVK PEM in AMD's KDS order: the value of SNP `trustAnchors.<generation>`. */
  readonly trustAnchorPem: string;
  readonly askIssuer: Issuer;
  /** An ARK CRL (DER, RSASSA-PSS like AMD's) listing these serials, current for `days` (default 30). */
  arkCrl(options?: { revokedSerials?: readonly bigint[]; days?: number }): Uint8Array;
}

const ORG = 'kata-cc TEST CA (not AMD)';
const CPUID: Record<SnpGeneration, [number, number, number]> = { Milan: [0x19, 0x01, 0x01], Genoa: [0x19, 0x11, 0x01], Turin: [0x1a, 0x02, 0x00] };

/** Generates the ARK/ASK/ASVK of one generation (two RSA key pairs: about a second each). */
export function fakeSnpCa(generation: SnpGeneration = 'Milan', options: { rsaBits?: number } = {}): FakeSnpCa {
  const bits = options.rsaBits ?? 4096;
  const arkKey = rsaKey(bits);
  const askKey: KeyPair = rsaKey(bits);
  const name = (cn: string): Buffer => dn([['OU', 'Engineering'], ['C', 'US'], ['L', 'Santa Clara'], ['ST', 'CA'], ['O', ORG], ['CN', cn]]);
  const arkName = name(`ARK-${generation}`);
  const arkIssuer: Issuer = { name: arkName, key: arkKey.privateKey, alg: 'rsapss-sha384' };
  const caExts = [basicConstraintsCa(), keyUsage(0x06)];
  const v = window(3650);
  const ark = issueCert({ subject: arkName, publicKey: arkKey.publicKey, issuer: arkIssuer, ...v, extensions: caExts });
  const askName = name(`SEV-${generation}`);
  const ask = issueCert({ subject: askName, publicKey: askKey.publicKey, issuer: arkIssuer, ...v, extensions: caExts });
  // The ASVK reuses the ASK's key pair (a third RSA key would only cost time); its name differs.
  const asvk = issueCert({ subject: name(`SEV-VLEK-${generation}`), publicKey: askKey.publicKey, issuer: arkIssuer, ...v, extensions: caExts });
  const arkCrl = (c: { revokedSerials?: readonly bigint[]; days?: number } = {}): Uint8Array => {
    const now = Date.now();
    return issueCrl({ issuer: arkIssuer, thisUpdate: new Date(now - 3_600_000), nextUpdate: new Date(now + (c.days ?? 30) * 86_400_000), revokedSerials: c.revokedSerials ?? [] });
  };
  return { generation, ark, ask, asvk, trustAnchorPem: ask.pem + ark.pem + asvk.pem, askIssuer: { name: askName, key: askKey.privateKey, alg: 'rsapss-sha384' }, arkCrl };
}

export interface FakeSnpPlatformOptions {
  /** Share one CA between chips (default: a new CA for `generation`). */
  ca?: FakeSnpCa;
  generation?: SnpGeneration;
  chipId?: Uint8Array;
  /** The TCB the VCEK is issued for and the report claims (reported = current = committed = launch). */
  tcb?: SnpTcb;
  /** Launch measurement (48 bytes). */
  measurement?: Uint8Array;
  /** HOST_DATA (32 bytes), e.g. the init-data digest. */
  hostData?: Uint8Array;
  /** Guest policy; default 0x30000 (SMT allowed, reserved bit 17; no debug, no migration agent). */
  policy?: bigint;
  /** Report version: 3 (default) or 5 (adds the mitigation vectors). */
  version?: 3 | 5;
  vmpl?: number;
}

export interface FakeSnpPlatform {
  readonly ca: FakeSnpCa;
  readonly generation: SnpGeneration;
  readonly chipId: Uint8Array;
  readonly tcb: SnpTcb;
  readonly measurement: Uint8Array;
  readonly hostData: Uint8Array;
  readonly vcek: FakeCert;
  /** A signed 1184-byte ATTESTATION_REPORT carrying `reportData` (zero-padded to 64 bytes). */
  report(reportData: Uint8Array, overrides?: { vmpl?: number }): Uint8Array;
  /** The GHCB certificate table (configfs-tsm `auxblob`) with the VCEK, ASK and ARK. */
  certTable(): Uint8Array;
  /** Wire evidence `{attestation_report: base64, cert_chain: [{cert_type: "VCEK", data}]}`. */
  evidence(reportData: Uint8Array): { attestation_report: string; cert_chain: { cert_type: string; data: number[] }[] };
}

function encodeTcb(t: SnpTcb, turin: boolean): Buffer {
  const b = Buffer.alloc(8);
  if (turin) b.set([t.fmc ?? 0, t.bootloader, t.tee, t.snp], 0);
  else {
    b[0] = t.bootloader;
    b[1] = t.tee;
    b[6] = t.snp;
  }
  b[7] = t.microcode;
  return b;
}

const SPL_OIDS: [keyof SnpTcb, string][] = [['bootloader', '1'], ['tee', '2'], ['snp', '3'], ['microcode', '8'], ['fmc', '9']];

/** GUID text -> the 16 bytes of the GHCB table (first three groups little-endian). */
function guidBytes(g: string): Buffer {
  const [a, b, c, d, e] = g.split('-') as [string, string, string, string, string];
  return Buffer.concat([Buffer.from(a, 'hex').reverse(), Buffer.from(b, 'hex').reverse(), Buffer.from(c, 'hex').reverse(), Buffer.from(d + e, 'hex')]);
}

export function fakeSnpPlatform(o: FakeSnpPlatformOptions = {}): FakeSnpPlatform {
  const ca = o.ca ?? fakeSnpCa(o.generation ?? 'Milan');
  const gen = ca.generation;
  const turin = gen === 'Turin';
  const chipId = o.chipId ?? randomBytes(64);
  const tcb: SnpTcb = o.tcb ?? (turin ? { fmc: 1, bootloader: 1, tee: 1, snp: 3, microcode: 84 } : { bootloader: 4, tee: 0, snp: 22, microcode: 213 });
  const measurement = o.measurement ?? createHash('sha384').update(`fake snp launch ${gen}`).digest();
  const hostData = o.hostData ?? new Uint8Array(32);
  const vcekKey = ecKey('P-384');
  const pre = '1.3.6.1.4.1.3704.1';
  const exts = [
    { oid: `${pre}.1`, value: int(1) },
    { oid: `${pre}.2`, value: ia5(`${gen}-B0`) },
    ...SPL_OIDS.filter(([f]) => f !== 'fmc' || turin).map(([f, n]) => ({ oid: `${pre}.3.${n}`, value: int(tcb[f] ?? 0) })),
    { oid: `${pre}.4`, value: octets(turin ? chipId.subarray(0, 8) : chipId) },
  ];
  const vcek = issueCert({
    subject: dn([['OU', 'Engineering'], ['C', 'US'], ['L', 'Santa Clara'], ['ST', 'CA'], ['O', 'kata-cc TEST CA (not AMD)'], ['CN', 'SEV-VCEK']]),
    publicKey: vcekKey.publicKey,
    issuer: ca.askIssuer,
    ...window(365 * 7),
    extensions: exts,
  });
  const version = o.version ?? 3;
  const policy = o.policy ?? 0x30000n;

  const report = (reportData: Uint8Array, overrides: { vmpl?: number } = {}): Uint8Array => {
    if (reportData.length > 64) throw new Error('report_data is at most 64 bytes');
    const b = Buffer.alloc(0x4a0);
    const t = encodeTcb(tcb, turin);
    b.writeUInt32LE(version, 0x00);
    b.writeBigUInt64LE(policy, 0x08);
    b.writeUInt32LE(overrides.vmpl ?? o.vmpl ?? 0, 0x30);
    b.writeUInt32LE(1, 0x34); // ECDSA P-384 with SHA-384
    t.copy(b, 0x38); // current TCB
    b.writeBigUInt64LE(3n, 0x40); // platform_info: SMT enabled, TSME enabled
    b.writeUInt32LE(0, 0x48); // key_info: signed by the VCEK
    Buffer.from(reportData).copy(b, 0x50);
    Buffer.from(measurement).copy(b, 0x90);
    Buffer.from(hostData).copy(b, 0xc0);
    randomBytes(32).copy(b, 0x140); // report_id
    t.copy(b, 0x180); // reported TCB
    const [fam, mod, step] = CPUID[gen];
    b[0x188] = fam;
    b[0x189] = mod;
    b[0x18a] = step;
    Buffer.from(chipId).copy(b, 0x1a0);
    t.copy(b, 0x1e0); // committed TCB
    b.set([13, 55, 1], 0x1e8); // current firmware build/minor/major (1.55.13)
    b.set([13, 55, 1], 0x1ec);
    t.copy(b, 0x1f0); // launch TCB
    const sig = sign('sha384', b.subarray(0, 0x2a0), { key: vcekKey.privateKey, dsaEncoding: 'ieee-p1363' });
    Buffer.from(sig.subarray(0, 48)).reverse().copy(b, 0x2a0);
    Buffer.from(sig.subarray(48)).reverse().copy(b, 0x2e8);
    return b;
  };

  const certTable = (): Uint8Array => {
    const entries: [string, Buffer][] = [
      ['63da758d-e664-4564-adc5-f4b93be8accd', vcek.der],
      ['4ab7b379-bbac-4fe4-a02f-05aef327c782', ca.ask.der],
      ['c0b406a4-a803-4952-9743-3fb6014cd0ae', ca.ark.der],
    ];
    const head = Buffer.alloc(24 * (entries.length + 1));
    let off = head.length;
    entries.forEach(([g, der], i) => {
      guidBytes(g).copy(head, i * 24);
      head.writeUInt32LE(off, i * 24 + 16);
      head.writeUInt32LE(der.length, i * 24 + 20);
      off += der.length;
    });
    return Buffer.concat([head, ...entries.map(([, d]) => d)]);
  };

  return {
    ca, generation: gen, chipId, tcb, measurement, hostData, vcek, report, certTable,
    evidence: (rd) => ({ attestation_report: Buffer.from(report(rd)).toString('base64'), cert_chain: [{ cert_type: 'VCEK', data: [...vcek.der] }] }),
  };
}
