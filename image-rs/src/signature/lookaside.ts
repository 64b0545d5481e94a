import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { imgError } from '../errors.js';
import type { ImageReference } from '../reference.js';

/** registries.d: per-scope lookaside (sigstore) base URLs. */
export interface LookasideConfig {
  default?: string;
  scopes: Record<string, string>;
}

/** Reads every *.yaml of a registries.d directory (containers-registries.d(5)). */
export async function loadRegistriesD(dir: string): Promise<LookasideConfig> {
  const cfg: LookasideConfig = { scopes: {} };
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.yaml') || n.endsWith('.yml')).sort();
  for (const n of names) await mergeRegistriesD(cfg, await readFile(path.join(dir, n), 'utf8'));
  return cfg;
}

/** Merges one registries.d YAML document (`default-docker`, `docker: {scope: {lookaside|sigstore}}`). */
export async function mergeRegistriesD(cfg: LookasideConfig, yamlText: string): Promise<LookasideConfig> {
  // yaml is loaded only when a registries.d is used (startup time in the guest).
  const { parse: parseYaml } = await import('yaml');
  // SECURITY: deeply nested YAML makes V8 abort the whole process inside the yaml parser
  // ("RegExpCompiler Allocation failed", uncatchable): nesting is bounded before parsing.
  // registries.d files are a few levels deep; the count is conservative (brackets in strings count).
  let flow = 0;
  for (let i = 0; i < yamlText.length; i++) {
    const ch = yamlText.charCodeAt(i);
    if (ch === 0x5b || ch === 0x7b) flow++;
    else if ((ch === 0x5d || ch === 0x7d) && flow > 0) flow--;
    if (flow > 64) throw imgError('IMG_POLICY_INVALID', 'Invalid registries.d YAML: nested more than 64 levels');
  }
  if (/^[ \t?:-]{257}/m.test(yamlText)) throw imgError('IMG_POLICY_INVALID', 'Invalid registries.d YAML: indented or nested more than 256 columns');
  let doc: Record<string, unknown>;
  try {
    doc = (parseYaml(yamlText) ?? {}) as Record<string, unknown>;
  } catch {
    throw imgError('IMG_POLICY_INVALID', 'Invalid registries.d YAML');
  }
  const url = (x: unknown): string | undefined => {
    const o = x as { lookaside?: unknown; sigstore?: unknown } | undefined;
    const v = o?.lookaside ?? o?.sigstore;
    return typeof v === 'string' ? v : undefined;
  };
  const d = url(doc['default-docker']);
  if (d !== undefined) cfg.default = d;
  for (const [scope, v] of Object.entries((doc['docker'] ?? {}) as Record<string, unknown>)) {
    const u = url(v);
    if (u !== undefined) cfg.scopes[scope] = u;
  }
  return cfg;
}

/** The lookaside base for `ref`: the longest matching scope (repo, namespaces, host), else the default. */
export function lookasideBase(cfg: LookasideConfig, ref: ImageReference): string | undefined {
  const parts = `${ref.registry}/${ref.repository}`.split('/');
  for (let i = parts.length; i >= 1; i--) {
    const hit = cfg.scopes[parts.slice(0, i).join('/')];
    if (hit !== undefined) return hit;
  }
  return cfg.default;
}

const MAX_SIGNATURES = 32;

/**
 * Simple-signing signatures of `digest` from a lookaside store:
 * `<base>/<repository>@<alg>=<hex>/signature-<n>`, n = 1.. until the first missing one.
 */
export async function fetchLookasideSignatures(base: string, ref: ImageReference, digest: string): Promise<Buffer[]> {
  const [alg, hex] = digest.split(':');
  const out: Buffer[] = [];
  for (let n = 1; n <= MAX_SIGNATURES; n++) {
    const rel = `${ref.repository}@${alg ?? ''}=${hex ?? ''}/signature-${n}`;
    if (base.startsWith('file://') || base.startsWith('/')) {
      const dir = base.startsWith('file://') ? fileURLToPath(base) : base;
      try {
        out.push(await readFile(path.join(dir, rel)));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') break;
        throw imgError('IMG_SIGNATURE_INVALID', `Cannot read signature ${n} of ${digest}: ${(err as NodeJS.ErrnoException).code ?? ''}`);
      }
    } else if (/^https?:\/\//.test(base)) {
      const res = await fetch(`${base.replace(/\/+$/, '')}/${rel}`).catch((err: unknown) => {
        throw imgError('IMG_REGISTRY_UNREACHABLE', `Cannot reach signature store ${new URL(base).origin}: ${(err as Error).message}`);
      });
      if (res.status === 404) break;
      if (res.status !== 200) throw imgError('IMG_REGISTRY_ERROR', `Signature store answered HTTP ${res.status} for signature ${n} of ${digest}`);
      out.push(Buffer.from(await res.arrayBuffer()));
    } else {
      throw imgError('IMG_POLICY_INVALID', `Unsupported lookaside URL scheme in "${base.slice(0, 100)}"`);
    }
  }
  return out;
}
