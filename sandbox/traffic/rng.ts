// Seeded randomness so a run is reproducible for a given seed; Math.random is never used.

export interface Rng {
  next(): number;
}

/** sfc32: small, fast, and good enough statistically for a traffic simulation. */
export function seededRng(seed: number): Rng {
  let a = 0x9e3779b9;
  let b = 0x243f6a88;
  let c = 0xb7e15162;
  let d = seed >>> 0;
  const next = (): number => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  // Mix the seed in before use; the first outputs of sfc32 are correlated with it.
  for (let i = 0; i < 15; i++) next();
  return { next };
}

export function standardNormal(rng: Rng): number {
  // Box-Muller; 1 - u keeps log away from 0.
  const u = 1 - rng.next();
  const v = rng.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

export function poisson(rng: Rng, lambda: number): number {
  if (lambda <= 0) return 0;
  if (lambda < 30) {
    // Knuth: exact, and cheap for the per-tick means we see (rps × tick length).
    const limit = Math.exp(-lambda);
    let k = 0;
    let p = rng.next();
    while (p > limit) {
      k++;
      p *= rng.next();
    }
    return k;
  }
  return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * standardNormal(rng)));
}

export function binomial(rng: Rng, n: number, p: number): number {
  if (n <= 0 || p <= 0) return 0;
  if (p >= 1) return n;
  if (n < 40) {
    let k = 0;
    for (let i = 0; i < n; i++) if (rng.next() < p) k++;
    return k;
  }
  const mean = n * p;
  const variance = mean * (1 - p);
  if (variance < 9) {
    // Rare events in a large n: Poisson is the accurate limit here, normal is not.
    return Math.min(n, p < 0.5 ? poisson(rng, mean) : n - poisson(rng, n * (1 - p)));
  }
  return Math.min(n, Math.max(0, Math.round(mean + Math.sqrt(variance) * standardNormal(rng))));
}

/** Splits n draws over categories with the given weights (any non-negative scale). */
export function multinomial(rng: Rng, n: number, weights: readonly number[]): number[] {
  const out = new Array<number>(weights.length).fill(0);
  let remaining = n;
  let remainingWeight = 0;
  for (const w of weights) remainingWeight += w;
  for (let i = 0; i < weights.length && remaining > 0; i++) {
    const w = weights[i] ?? 0;
    const k = i === weights.length - 1 ? remaining : binomial(rng, remaining, w / remainingWeight);
    out[i] = k;
    remaining -= k;
    remainingWeight -= w;
  }
  return out;
}
