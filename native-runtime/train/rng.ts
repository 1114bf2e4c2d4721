// A small seeded PRNG whose whole state is four 32-bit words, so a checkpoint can store it and a
// resumed run draws exactly the numbers an uninterrupted run would have drawn.
// Algorithm: xoshiro128** (Blackman & Vigna), seeded through splitmix32 so that nearby seeds
// give unrelated streams.

export type RngState = [number, number, number, number];

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

export class Rng {
  private s: Uint32Array;

  /** `seed` may be any number; several numbers (e.g. seed and epoch) derive an independent stream. */
  constructor(...seeds: number[]) {
    let mixed = 0x6a09e667;
    for (const x of seeds) {
      // Fold each seed word in (fractions and negatives are folded too, so 1.5 != 1).
      const lo = Math.trunc(x) >>> 0;
      const hi = Math.trunc(x / 4294967296) >>> 0;
      mixed = splitmix32(mixed ^ lo)() ^ hi;
      mixed = splitmix32(mixed)() >>> 0;
    }
    const sm = splitmix32(mixed);
    this.s = new Uint32Array([sm(), sm(), sm(), sm()]);
    if ((this.s[0] | this.s[1] | this.s[2] | this.s[3]) === 0) this.s[0] = 1;
  }

  static fromState(state: RngState): Rng {
    const r = new Rng(0);
    r.s = Uint32Array.from(state);
    return r;
  }

  state(): RngState {
    return [this.s[0], this.s[1], this.s[2], this.s[3]];
  }

  /** Uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  next(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform integer in [0, n), without modulo bias. */
  int(n: number): number {
    if (n <= 0) throw new Error(`Rng.int: n must be positive, got ${n}`);
    if (n <= 4294967296) {
      const limit = Math.floor(4294967296 / n) * n;
      for (;;) {
        const x = this.nextUint32();
        if (x < limit) return x % n;
      }
    }
    return Math.floor(this.next() * n);
  }

  /** Fisher-Yates shuffle in place. */
  shuffle<T extends { length: number; [i: number]: unknown }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = a[i];
      a[i] = a[j];
      a[j] = tmp;
    }
    return a;
  }
}

/** A permutation of 0..n-1 that depends only on (seed, epoch): resuming needs no stored state. */
export function epochPermutation(n: number, seed: number, epoch: number): Uint32Array {
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  new Rng(seed, epoch, 0x5eed).shuffle(p);
  return p;
}
