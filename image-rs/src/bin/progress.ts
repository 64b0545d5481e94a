import type { ProgressEvent } from '../pull.js';

const mb = (n: number): string => `${(n / 1048576).toFixed(1)} MiB`;

/** Per-layer progress lines on a terminal, redrawn in place (at most ~10 times a second). */
export function progressRenderer(out: NodeJS.WriteStream): (e: ProgressEvent) => void {
  let layers: { digest: string; size: number; bytes: number; state: string }[] = [];
  let drawn = 0;
  let last = 0;
  const draw = (force: boolean): void => {
    const now = Date.now();
    if (!force && now - last < 100) return;
    last = now;
    if (drawn > 0) out.write(`\x1b[${drawn}A`);
    for (const l of layers) {
      const pct = l.size > 0 ? Math.floor((l.bytes / l.size) * 100) : 100;
      out.write(`\x1b[2K${l.digest.slice(7, 19)}  ${l.state.padEnd(11)} ${mb(l.bytes)} / ${mb(l.size)} (${pct}%)\n`);
    }
    drawn = layers.length;
  };
  return (e) => {
    if (e.type === 'resolved') {
      out.write(`manifest ${e.manifestDigest}\n`);
      layers = e.layers.map((l) => ({ ...l, bytes: 0, state: 'waiting' }));
      draw(true);
    } else if (e.type === 'layer-bytes') {
      const l = layers[e.index];
      if (l) {
        l.bytes = e.bytes;
        l.state = e.bytes >= l.size ? 'unpacking' : 'downloading';
      }
      draw(false);
    } else {
      const l = layers[e.index];
      if (l) {
        l.bytes = l.size;
        l.state = e.transferred === 0 ? 'cached' : 'done';
      }
      draw(true);
    }
  };
}
