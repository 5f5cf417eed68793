// The API server's audit log (JSON lines, policy in audit-policy.yaml) read as requests per
// user: how bench/scale counts each controller's API requests from the server's own view,
// since apiserver_request_total carries no user or user-agent label.

export interface AuditRequest {
  user: string;
  userAgent: string;
  verb: string;
  resource: string;
  /** requestReceivedTimestamp, epoch ms. */
  at: number;
  /** The server's own time on the request: stageTimestamp (ResponseComplete) minus `at`, in ms. */
  ms: number;
  code: number;
}

const WRITE_VERBS = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);
export const isWrite = (r: AuditRequest) => WRITE_VERBS.has(r.verb);

/** Parses audit lines; lines that are not complete audit events are skipped (a torn last line). */
export function parseAuditLog(text: string): AuditRequest[] {
  const out: AuditRequest[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    let e: {
      kind?: string;
      stage?: string;
      verb?: string;
      user?: { username?: string };
      userAgent?: string;
      objectRef?: { resource?: string; subresource?: string };
      requestReceivedTimestamp?: string;
      stageTimestamp?: string;
      responseStatus?: { code?: number };
    };
    try {
      e = JSON.parse(line);
    } catch {
      continue;
    }
    if (e.kind !== 'Event' || (e.stage !== undefined && e.stage !== 'ResponseComplete')) continue;
    const at = Date.parse(e.requestReceivedTimestamp ?? '');
    if (!e.verb || !Number.isFinite(at)) continue;
    const ref = e.objectRef;
    out.push({
      user: e.user?.username ?? '',
      userAgent: e.userAgent ?? '',
      verb: e.verb,
      resource: ref?.resource ? `${ref.resource}${ref.subresource ? `/${ref.subresource}` : ''}` : '',
      at,
      ms: Date.parse(e.stageTimestamp ?? '') - at,
      code: e.responseStatus?.code ?? 0,
    });
  }
  return out;
}

/** Requests by `user` received in [from, to). */
export function requestsBetween(
  requests: readonly AuditRequest[],
  user: string,
  from: number,
  to: number,
): AuditRequest[] {
  return requests.filter((r) => r.user === user && r.at >= from && r.at < to);
}

/** Counts by `verb resource`, largest first: what a reader needs to see where requests go. */
export function breakdown(requests: readonly AuditRequest[]): [string, number][] {
  const counts = new Map<string, number>();
  for (const r of requests)
    counts.set(`${r.verb} ${r.resource}`, (counts.get(`${r.verb} ${r.resource}`) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1]);
}
