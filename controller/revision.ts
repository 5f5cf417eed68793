import type { PodTemplate } from '../crds/index.ts';

export {
  BASELINE_LABEL,
  REVISION_LABEL,
  REVISION_NUMBER_ANNOTATION,
  ROLLOUT_LABEL,
} from '../crds/labels.ts';

/** JSON with object keys sorted, so equal templates hash equal whatever order git wrote them in. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Deep equality of JSON-like values, ignoring key order and undefined members. */
export const sameJson = (a: unknown, b: unknown): boolean => canonicalJson(a) === canonicalJson(b);

// Kubernetes' SafeEncodeString alphabet: no vowels, so a hash never spells a word, and valid in names.
const ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

const revisions = new WeakMap<object, string>();

/**
 * The pod-template hash naming a revision: FNV-1a 32 of the canonical template, encoded
 * like Kubernetes' pod-template-hash. It is a label value and part of ReplicaSet names.
 */
export function revisionOf(template: PodTemplate): string {
  // A parsed Rollout's template is one object per Rollout version (see parse-cache.ts).
  const known = revisions.get(template);
  if (known !== undefined) return known;
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(canonicalJson(template), 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  let out = '';
  let n = hash;
  do {
    out += ALPHABET[n % ALPHABET.length];
    n = Math.floor(n / ALPHABET.length);
  } while (n > 0);
  revisions.set(template, out);
  return out;
}
