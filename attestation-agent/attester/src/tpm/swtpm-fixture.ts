/**
 * Test support: a real software TPM (swtpm, Debian package) on a local TCP port, provisioned
 * like a guest TPM with tpm2-tools (EK, then an RSA AK persisted at 0x81010002). Used by tests
 * only; production attesters talk to /dev/tpmrm0.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Swtpm {
  /** `tcp://127.0.0.1:<port>`, for AA_TPM_DEVICE / TpmAttesterConfig.device. */
  readonly spec: string;
  readonly akHandle: number;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

async function waitPort(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((res) => {
      const c = net.connect({ host: '127.0.0.1', port }, () => { c.destroy(); res(true); });
      c.on('error', () => res(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`swtpm did not listen on ${port}`);
}

export interface SwtpmOptions {
  /** Persistent AK handle (default 0x81010002; Azure's HCL AK is 0x81000003). */
  akHandle?: number;
  /** NV indices to define and fill (e.g. the Azure HCL report at 0x01400001). */
  nv?: { index: number; data: Uint8Array }[];
}

/**
 * Starts swtpm and provisions the AK; `swtpm` and `tpm2_*` must be on PATH. Retried on a fresh
 * port when startup fails (a port taken between the probe and swtpm's bind, parallel test files).
 */
export async function startSwtpm(options: SwtpmOptions = {}): Promise<Swtpm> {
  let last: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(options);
    } catch (err) {
      last = err;
    }
  }
  throw last;
}

async function startOnce(options: SwtpmOptions): Promise<Swtpm> {
  const akHandle = options.akHandle ?? 0x81010002;
  const dir = await mkdtemp(path.join(tmpdir(), 'kcc-swtpm-'));
  // tpm2-tss's swtpm TCTI expects the control channel on the data port + 1.
  let port = await freePort();
  while (!(await isFree(port + 1))) port = await freePort();
  const ctrl = port + 1;
  const child: ChildProcess = spawn('swtpm', ['socket', '--tpm2', '--tpmstate', `dir=${dir}`,
    '--server', `type=tcp,port=${port},bindaddr=127.0.0.1`, '--ctrl', `type=tcp,port=${ctrl},bindaddr=127.0.0.1`,
    '--flags', 'not-need-init,startup-clear'], { stdio: 'ignore' });
  const stop = async (): Promise<void> => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitPort(port);
    await waitPort(ctrl);
    // SECURITY (test hygiene): make sure the listener is ours, not another test's swtpm.
    if (child.exitCode !== null) throw new Error('swtpm exited during startup (port in use?)');
    const env = { ...process.env, TPM2TOOLS_TCTI: `swtpm:host=127.0.0.1,port=${port}` };
    const t = async (...args: string[]): Promise<void> => { await run(args[0]!, args.slice(1), { env, cwd: dir }); };
    await t('tpm2_createek', '-c', 'ek.ctx', '-G', 'rsa', '-u', 'ek.pub');
    await t('tpm2_flushcontext', '-t');
    await t('tpm2_createak', '-C', 'ek.ctx', '-c', 'ak.ctx', '-G', 'rsa', '-g', 'sha256', '-s', 'rsassa', '-u', 'ak.pub', '-n', 'ak.name');
    await t('tpm2_flushcontext', '-t');
    await t('tpm2_flushcontext', '-s');
    await t('tpm2_evictcontrol', '-c', 'ak.ctx', `0x${akHandle.toString(16)}`);
    await t('tpm2_flushcontext', '-t');
    for (const [i, nv] of (options.nv ?? []).entries()) {
      const file = path.join(dir, `nv${i}.bin`);
      await writeFile(file, nv.data);
      const idx = `0x${nv.index.toString(16)}`;
      await t('tpm2_nvdefine', idx, '-C', 'o', '-s', String(nv.data.length), '-a', 'authread|authwrite|ownerread|ownerwrite');
      await t('tpm2_nvwrite', idx, '-C', 'o', '-i', file);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { spec: `tcp://127.0.0.1:${port}`, akHandle, stop };
}
