import { createPrivateKey, type KeyObject } from 'node:crypto';
import { imgError } from '../errors.js';

/**
 * Loads a private key for JWE recipients: PEM (PKCS#8, PKCS#1 RSA, SEC1 EC), DER of those, or a
 * JWK. Unlike ocicrypt 1.0.3 SEC1 PEMs work. Errors never include key material.
 */
export function loadPrivateKey(data: Uint8Array, label = 'key', passphrase?: string): KeyObject {
  const buf = Buffer.from(data);
  const text = buf.toString('utf8');
  const attempts: (() => KeyObject)[] = [];
  if (text.includes('-----BEGIN')) {
    attempts.push(() => createPrivateKey({ key: text, format: 'pem', ...(passphrase === undefined ? {} : { passphrase }) }));
  } else if (text.trimStart().startsWith('{')) {
    attempts.push(() => createPrivateKey({ key: JSON.parse(text) as import('node:crypto').JsonWebKey, format: 'jwk' }));
  } else {
    attempts.push(
      () => createPrivateKey({ key: buf, format: 'der', type: 'pkcs8' }),
      () => createPrivateKey({ key: buf, format: 'der', type: 'pkcs1' }),
      () => createPrivateKey({ key: buf, format: 'der', type: 'sec1' }),
    );
  }
  for (const attempt of attempts) {
    try {
      const k = attempt();
      if (k.type === 'private') return k;
    } catch {
      // try the next encoding
    }
  }
  throw imgError('IMG_KEY_INVALID', `Decryption key ${label} is not a supported private key (PEM/DER PKCS#8, PKCS#1, SEC1 or JWK; encrypted PEM needs a passphrase)`);
}
