import { agentError } from '../errors.js';

/**
 * Output of a process waiting to be read by ReadStdout/ReadStderr. Reads block until data or
 * EOF; EOF is an error (AGENT_STREAM_EOF), as kata's agent reports it. Above `highWater`
 * buffered bytes the producer is paused (the process then blocks on its pipe).
 */
export class StreamBuffer {
  #chunks: Buffer[] = [];
  #size = 0;
  #ended = false;
  #waiters = new Set<() => void>();
  readonly #highWater: number;
  onDrain: (() => void) | undefined;

  constructor(highWater = 1 << 20) {
    this.#highWater = highWater;
  }

  get full(): boolean {
    return this.#size >= this.#highWater;
  }

  push(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    this.#wake();
  }

  end(): void {
    this.#ended = true;
    this.#wake();
  }

  #wake(): void {
    for (const w of this.#waiters) w();
    this.#waiters.clear();
  }

  async read(max: number, signal?: AbortSignal): Promise<Buffer> {
    while (this.#size === 0) {
      if (this.#ended) throw agentError('AGENT_STREAM_EOF', 'eof');
      if (signal?.aborted) throw agentError('AGENT_CANCELLED', 'Read cancelled');
      await new Promise<void>((resolve) => {
        const done = (): void => { signal?.removeEventListener('abort', done); this.#waiters.delete(done); resolve(); };
        this.#waiters.add(done);
        signal?.addEventListener('abort', done, { once: true });
      });
    }
    const limit = max > 0 ? max : 32 * 1024;
    const out: Buffer[] = [];
    let n = 0;
    while (this.#chunks.length && n < limit) {
      const c = this.#chunks[0] as Buffer;
      const take = Math.min(c.length, limit - n);
      out.push(c.subarray(0, take));
      n += take;
      if (take === c.length) this.#chunks.shift();
      else this.#chunks[0] = c.subarray(take);
    }
    this.#size -= n;
    if (!this.full) this.onDrain?.();
    return Buffer.concat(out);
  }
}
