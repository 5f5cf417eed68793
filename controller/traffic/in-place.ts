// Whether routes Sluice wrote are still as it wrote them. The API server hands custom resources
// back with their keys in its own order and with the defaults its schema fills in (a Gateway API
// backendRef's group, kind and weight, a header match's type), so a route read back is never
// byte-equal to the one written. Comparing bytes would send a no-op write on every pass.

/**
 * Whether `stored` says everything `wanted` says: every key `wanted` has, equal; keys only the
 * server added, allowed. Lists match entry for entry, in order.
 */
export function holds(stored: unknown, wanted: unknown): boolean {
  if (Array.isArray(wanted))
    return (
      Array.isArray(stored) && stored.length === wanted.length && wanted.every((w, i) => holds(stored[i], w))
    );
  if (wanted !== null && typeof wanted === 'object') {
    if (stored === null || typeof stored !== 'object' || Array.isArray(stored)) return false;
    const s = stored as Record<string, unknown>;
    return Object.entries(wanted).every(
      ([k, w]) => w === undefined || (Object.hasOwn(s, k) && holds(s[k], w)),
    );
  }
  return Object.is(stored, wanted);
}
