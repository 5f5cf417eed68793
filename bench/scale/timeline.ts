// Pure readings of a VirtualService's weight history, as the harness's watch recorded it.

/** Timeline of a VirtualService's canary weight: [time seen, weight] on every change. */
export type Timeline = [number, number][];

/** Step lateness of one release: each step's next weight minus (previous weight seen + pause). */
export function stepLateness(
  timeline: Timeline,
  from: number,
  pauseMs: number,
  firstWeight: number,
  steps: number,
): number[] {
  const after = timeline.filter(([at]) => at >= from);
  const start = after.findIndex(([, w]) => w === firstWeight);
  if (start < 0) return [];
  const out: number[] = [];
  for (let i = start; i < Math.min(after.length - 1, start + steps); i++) {
    const [at] = after[i] as [number, number];
    const [nextAt] = after[i + 1] as [number, number];
    out.push(nextAt - (at + pauseMs));
  }
  return out;
}

/** When a release's canary weight went back to 0 after having been positive (since `from`). */
export function zeroAfterTraffic(timeline: Timeline, from: number): number | undefined {
  const after = timeline.filter(([at]) => at >= from);
  const first = after.findIndex(([, w]) => w > 0);
  return first < 0 ? undefined : after.slice(first).find(([, w]) => w === 0)?.[0];
}
