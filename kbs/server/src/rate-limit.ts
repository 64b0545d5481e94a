/**
 * Per-client-address token bucket for unauthenticated `POST /kbs/v0/auth` (per replica: a
 * client spread over N replicas gets N times the rate, which the live-session cap still bounds).
 * `perMinute` tokens refill continuously; a burst of `perMinute` is allowed.
 */
export class AddressRateLimiter {
  readonly #perMs: number;
  readonly #burst: number;
  readonly #maxAddresses: number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(perMinute: number, maxAddresses = 100_000) {
    this.#perMs = perMinute / 60_000;
    this.#burst = perMinute;
    this.#maxAddresses = maxAddresses;
  }

  /** Takes one token for `address`; returns 0 when allowed, else the seconds until one is available. */
  take(address: string, now = Date.now()): number {
    let b = this.#buckets.get(address);
    if (b === undefined) {
      if (this.#buckets.size >= this.#maxAddresses) this.#evictFull(now);
      b = { tokens: this.#burst, at: now };
      this.#buckets.set(address, b);
    } else {
      b.tokens = Math.min(this.#burst, b.tokens + (now - b.at) * this.#perMs);
      b.at = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / this.#perMs / 1000));
  }

  /** Memory bound: forget addresses whose bucket has refilled (they lose nothing). */
  #evictFull(now: number): void {
    for (const [a, b] of this.#buckets) {
      if (b.tokens + (now - b.at) * this.#perMs >= this.#burst) this.#buckets.delete(a);
    }
    // Still full (every address is mid-burst): drop the oldest entries, which only favours them.
    for (const a of this.#buckets.keys()) {
      if (this.#buckets.size < this.#maxAddresses) break;
      this.#buckets.delete(a);
    }
  }
}
