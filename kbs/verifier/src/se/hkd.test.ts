/**
 * Host-key document checks against a SAMPLE PKI built with openssl (no IBM certificates are
 * committed): root -> intermediate -> "IBM Z Host Key Signing Service" key -> P-521 HKD, and
 * CRLs from the signing key made with `openssl ca -gencrl`.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { requireTool, tempDir } from '@kata-cc/testing';
import { parseCertificate, pemBlocks } from '../common/x509.js';
import { verifyHostKeyDocument, type HkdTrust } from './hkd.js';

let tmp: { dir: string; cleanup: () => Promise<void> };
const f = (n: string): string => path.join(tmp.dir, n);
const ssl = (...a: string[]): void => {
  execFileSync('openssl', a, { cwd: tmp.dir, stdio: 'ignore' });
};
const IBM = '/C=US/O=International Business Machines Corporation/OU=IBM Z Host Key Signing Service/CN=Sample Signing Key';

function issue(name: string, subj: string, ca: string, keyArgs: string[], caExt: boolean): void {
  ssl('req', '-new', ...keyArgs, '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subj);
  const x = ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '2'];
  ssl(...x, ...(caExt ? ['-extfile', 'ca.ext'] : []));
}

function crl(revoke?: string): string {
  writeFileSync(f('index.txt'), '');
  writeFileSync(f('crlnumber'), '01\n');
  const cfg = '[ca]\ndefault_ca=d\n[d]\ndatabase=index.txt\ncrlnumber=crlnumber\ndefault_md=sha256\ndefault_crl_days=1\n';
  writeFileSync(f('ca.cnf'), cfg);
  if (revoke) ssl('ca', '-config', 'ca.cnf', '-keyfile', 'sk.key', '-cert', 'sk.crt', '-revoke', revoke);
  const out = revoke ? 'revoked.crl' : 'ok.crl';
  ssl('ca', '-config', 'ca.cnf', '-keyfile', 'sk.key', '-cert', 'sk.crt', '-gencrl', '-out', out);
  return f(out);
}

before(async () => {
  requireTool('openssl');
  tmp = await tempDir('kcc-hkd-');
  writeFileSync(f('ca.ext'), 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n');
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'root.key', '-out', 'root.crt', '-subj', '/CN=Sample Root', '-days', '2', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  issue('int', '/CN=Sample Intermediate', 'root', ['-newkey', 'rsa:2048'], true);
  issue('sk', IBM, 'int', ['-newkey', 'rsa:2048'], true);
  issue('hkd', '/CN=sample host', 'sk', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:secp521r1'], false);
  issue('rogue', '/CN=rogue host', 'int', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:secp521r1'], false);
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'fake.key', '-out', 'fake.crt', '-subj', IBM, '-days', '2');
});
after(async () => tmp?.cleanup());

const cert = (n: string) => parseCertificate(pemBlocks(readFileSync(f(n), 'latin1'))[0]!);

test('sample PKI: a host-key document from the IBM Z signing key, chained to the root, with a current CRL, is accepted', () => {
  verifyHostKeyDocument(cert('hkd.crt'), { rootCa: f('root.crt'), caCerts: [f('sk.crt'), f('int.crt')], crls: [crl()] }, new Date());
});

test('sample PKI: revoked HKD, no CRL, other issuer, unknown root, or a self-made signing key are refused', () => {
  const now = new Date();
  const base: HkdTrust = { rootCa: f('root.crt'), caCerts: [f('sk.crt'), f('int.crt')], crls: [crl()] };
  const refused = (t: HkdTrust, name = 'hkd.crt', at = now): void => assert.throws(() => verifyHostKeyDocument(cert(name), t, at), { code: 'VERIFIER_SE_HKD_UNTRUSTED' });
  refused({ ...base, crls: [crl(f('hkd.crt'))] });
  refused({ ...base, crls: [] });
  refused(base, 'rogue.crt');
  refused({ ...base, rootCa: f('fake.crt') });
  refused({ ...base, caCerts: [f('fake.crt'), f('int.crt')] });
  refused(base, 'hkd.crt', new Date(now.getTime() + 5 * 86_400_000));
});
