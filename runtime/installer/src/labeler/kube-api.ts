import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { installerError } from '../errors.js';
import type { NodeLabeler } from './labeler.js';

export interface KubeApiOptions {
  /** e.g. https://10.0.0.1:443 */
  readonly server: string;
  readonly token: string;
  /** PEM bundle that signs the API server certificate. */
  readonly ca?: string;
}

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** Options from the pod's environment and mounted service account, or null outside a cluster. */
export async function inClusterOptions(env: NodeJS.ProcessEnv = process.env, saDir = SA_DIR): Promise<KubeApiOptions | null> {
  const host = env['KUBERNETES_SERVICE_HOST'];
  const port = env['KUBERNETES_SERVICE_PORT'] ?? '443';
  if (host === undefined || host === '') return null;
  let token: string;
  let ca: string;
  try {
    token = (await readFile(`${saDir}/token`, 'utf8')).trim();
    ca = await readFile(`${saDir}/ca.crt`, 'utf8');
  } catch (cause) {
    throw installerError('INST_LABEL_FAILED', `In a cluster but no service account token under ${saDir}: keep automountServiceAccountToken on, or pass --no-label`, { cause });
  }
  const server = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return { server, token, ca };
}

/**
 * Labels nodes with a JSON merge patch on /api/v1/nodes/{name} (null removes a label), the
 * request `kubectl label node` makes. Needs RBAC `patch` on `nodes` (deploy/runtime/rbac.yaml).
 */
export class KubeApiLabeler implements NodeLabeler {
  readonly #opts: KubeApiOptions;
  constructor(opts: KubeApiOptions) {
    this.#opts = opts;
  }

  async setLabels(node: string, labels: Record<string, string | null>): Promise<void> {
    const url = new URL(`/api/v1/nodes/${encodeURIComponent(node)}`, this.#opts.server);
    const body = JSON.stringify({ metadata: { labels } });
    const mod = url.protocol === 'https:' ? https : http;
    const status = await new Promise<{ code: number; text: string }>((resolve, reject) => {
      const req = mod.request(
        url,
        {
          method: 'PATCH',
          headers: { 'content-type': 'application/merge-patch+json', authorization: `Bearer ${this.#opts.token}`, accept: 'application/json' },
          ...(this.#opts.ca === undefined ? {} : { ca: this.#opts.ca }),
          timeout: 30_000,
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c.length + text.length < 4096 ? c : ''));
          res.on('end', () => resolve({ code: res.statusCode ?? 0, text }));
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout after 30 s')));
      req.on('error', reject);
      req.end(body);
    }).catch((cause: unknown) => {
      throw installerError('INST_LABEL_FAILED', `Cannot reach the Kubernetes API at ${url.origin} to label node ${node}`, { cause });
    });
    if (status.code < 200 || status.code >= 300) {
      let reason = '';
      try {
        reason = String((JSON.parse(status.text) as { message?: unknown }).message ?? '');
      } catch {
        // not a Status object; the HTTP code is enough
      }
      throw installerError('INST_LABEL_FAILED', `Labeling node ${node} failed with HTTP ${status.code}${reason ? `: ${reason}` : ''}`, { details: { status: status.code } });
    }
  }
}
