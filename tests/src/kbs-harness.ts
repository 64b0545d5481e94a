/**
 * Helpers for the kbs-*.test.ts files: the real `kbs` and `kbs-cli` binaries as processes
 * (built by `tsc -b`), an Ed25519 admin key pair, and cleanup on failure.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { KBS_BIN, repoRoot, startKbsProcess, startNodeProcess, type NodeProcess } from '@kata-cc/testing';

export { KBS_BIN };
export const KBS_CLI_BIN = path.join(repoRoot(), 'kbs', 'cli', 'bin', 'kbs-cli.js');

export interface RunningKbs {
  url: string;
  adminKey: string;
  adminPub: string;
  stderr(): string;
  stop(): Promise<void>;
}

/** Writes an admin key pair (Ed25519 by default) into `dir` and returns the PEM paths. */
export async function writeAdminKeys(dir: string, name = 'admin', type: 'ed25519' | 'p256' = 'ed25519'): Promise<{ key: string; pub: string }> {
  const pair = type === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const key = path.join(dir, `${name}.key`);
  const pub = path.join(dir, `${name}.pub`);
  await writeFile(key, pair.privateKey.export({ format: 'pem', type: 'pkcs8' }));
  await writeFile(pub, pair.publicKey.export({ format: 'pem', type: 'spki' }));
  return { key, pub };
}

/**
 * Starts `kbs --storage memory: --allow-sample` on a free loopback port, plain HTTP unless
 * `insecureHttp: false` (then `extraArgs` carry the TLS options). Each call gets its own admin key.
 */
export async function startKbs(dir: string, extraArgs: string[] = [], options: { insecureHttp?: boolean; adminKeyType?: 'ed25519' | 'p256' } = {}): Promise<RunningKbs> {
  const admin = await writeAdminKeys(dir, `admin-${Math.random().toString(36).slice(2, 8)}`, options.adminKeyType ?? 'ed25519');
  const http = options.insecureHttp === false ? [] : ['--insecure-http'];
  const kbs = await startKbsProcess([...http, '--storage', 'memory:', '--admin-key', admin.pub, '--allow-sample', ...extraArgs]);
  return { url: kbs.url, adminKey: admin.key, adminPub: admin.pub, stderr: kbs.stderr, stop: kbs.stop };
}

export interface CliResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

/** Runs the real kbs-cli binary (`stdin` is piped in when given). */
export function kbsCli(args: string[], env: Record<string, string> = {}, stdin?: Buffer): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [KBS_CLI_BIN, ...args], { stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    if (stdin !== undefined) proc.stdin?.end(stdin);
    const out: Buffer[] = [];
    let err = '';
    proc.stdout?.on('data', (d: Buffer) => out.push(d));
    proc.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    proc.once('error', reject);
    proc.once('close', (code) => resolve({ code: code ?? -1, stdout: Buffer.concat(out), stderr: err }));
  });
}

export const AA_BIN = path.join(repoRoot(), 'attestation-agent', 'agent', 'bin', 'attestation-agent.js');
export const CDH_BIN = path.join(repoRoot(), 'guest-components', 'cdh', 'bin', 'confidential-data-hub.js');

/** Child processes started by `start`, stopped by `stopAll`. */
export class ProcessGroup {
  readonly #procs: NodeProcess[] = [];

  /** The processes started so far. */
  get procs(): ChildProcess[] {
    return this.#procs.map((p) => p.proc);
  }

  /** Starts a node binary (log level info); resolves once its output matches `ready` (20 s at most). */
  async start(bin: string, args: string[], ready: RegExp, env: Record<string, string> = {}): Promise<RegExpExecArray> {
    const p = await startNodeProcess(bin, args, { ready, env: { KATA_CC_LOG_LEVEL: 'info', ...env } });
    this.#procs.push(p);
    return p.ready;
  }

  /** SIGTERM to every process still running, and wait for them. */
  async stopAll(): Promise<void> {
    for (const p of this.#procs) await p.stop();
  }
}
