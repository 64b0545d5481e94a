import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { KccError } from '@kata-cc/errors';

/** The embedded KBS of `kata-cc run`: a child process on 127.0.0.1, SQLite in a temp dir, sample TEE allowed. */
export interface EmbeddedKbs {
  url: string;
  port: number;
  process: ChildProcess;
  /** Stores a resource (e.g. the image decryption key) through kbs-cli with the run's admin key. */
  setResource(resourcePath: string, file: string): Promise<void>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (a && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

export async function startEmbeddedKbs(dir: string, kbsCmd: string[], kbsCliCmd: string[], logFile: string): Promise<EmbeddedKbs> {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const pub = path.join(dir, 'admin.pub');
  const priv = path.join(dir, 'admin.key');
  await writeFile(pub, publicKey.export({ type: 'spki', format: 'pem' }));
  await writeFile(priv, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const port = await freePort();
  const { openSync, closeSync } = await import('node:fs');
  const fd = openSync(logFile, 'a', 0o600);
  const [bin, ...args] = kbsCmd as [string, ...string[]];
  // Dev mode on loopback: --allow-sample is what makes profile "none" attest; never production.
  const child = spawn(bin, [...args, '--listen', `127.0.0.1:${port}`, '--insecure-http', '--storage', `sqlite:${path.join(dir, 'kbs.db')}`, '--admin-key', pub, '--allow-sample'], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  let exited = false;
  child.once('exit', () => { exited = true; });
  const deadline = Date.now() + 20_000;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const s = net.createConnection(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (up) break;
    if (exited || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new KccError({ kind: 'UNAVAILABLE', code: 'KCC_KBS_START_FAILED', message: `The embedded KBS did not start (log: ${logFile})` });
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    port,
    process: child,
    setResource: async (resourcePath, file) => {
      const [cli, ...cliArgs] = kbsCliCmd as [string, ...string[]];
      try {
        await promisify(execFile)(cli, [...cliArgs, '--url', url, '--admin-key', priv, 'set-resource', '--path', resourcePath, '--file', file], { timeout: 30_000 });
      } catch (cause) {
        throw new KccError({ kind: 'UNAVAILABLE', code: 'KCC_KBS_SET_RESOURCE_FAILED', message: `Cannot store the decryption key in the embedded KBS at ${resourcePath}`, cause });
      }
    },
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await new Promise((r) => { const t = setTimeout(() => { child.kill('SIGKILL'); r(undefined); }, 3000); child.once('exit', () => { clearTimeout(t); r(undefined); }); });
    },
  };
}
