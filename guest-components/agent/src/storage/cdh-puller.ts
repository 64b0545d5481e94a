import net from 'node:net';
import path from 'node:path';
import { loadProtos } from '@kata-cc/protocols';
import { TtrpcClient, protobufCodec, type ProtobufType } from '@kata-cc/ttrpc';
import type { ImagePuller, PulledImage } from './image-puller.js';
import { bundleProcess } from './image-rs-puller.js';

export const CDH_SOCKET = '/run/confidential-containers/cdh.sock';

/**
 * Guest pull as kata's agent does it: `api.ImagePullService/PullImage{image_url, bundle_path}`
 * on the CDH's ttRPC socket. The CDH pulls with image-rs, unwrapping encrypted layer keys with
 * keys the KBS releases after attestation, and applies the image security policy of cdh.toml.
 */
export class CdhPuller implements ImagePuller {
  readonly #socket: string;
  readonly #timeoutMs: number;

  constructor(socket = CDH_SOCKET, timeoutMs = 1_200_000) {
    this.#socket = socket;
    this.#timeoutMs = timeoutMs;
  }

  async pull(image: string, bundleDir: string, signal: AbortSignal): Promise<PulledImage> {
    const root = loadProtos('confidential-data-hub/api.proto');
    const req = protobufCodec(root.lookupType('api.ImagePullRequest') as unknown as ProtobufType);
    const res = protobufCodec<{ manifest_digest: string }>(root.lookupType('api.ImagePullResponse') as unknown as ProtobufType);
    const sock = await waitForSocket(this.#socket, 30_000);
    const client = new TtrpcClient(sock);
    try {
      const out = await client.request('api.ImagePullService', 'PullImage', req, res, { image_url: image, bundle_path: bundleDir }, { timeoutMs: this.#timeoutMs, signal });
      const proc = await bundleProcess(bundleDir);
      return { rootfs: path.join(bundleDir, 'rootfs'), digest: out.manifest_digest, ...(proc ? { process: proc } : {}) };
    } finally {
      client.close();
    }
  }
}

/** The CDH starts with the agent; its socket appears a little later (Node startup under TCG). */
async function waitForSocket(file: string, timeoutMs: number): Promise<net.Socket> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await new Promise<net.Socket>((resolve, reject) => {
        const s = net.connect(file);
        s.once('connect', () => resolve(s));
        s.once('error', reject);
      });
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
