// Credentials must never reach a log line, an Event or status. Every message that leaves the
// write-back path (git's stderr included) goes through `redact` with the secrets in play.

const MASK = '***';

/** Forms a secret can take on the wire: as given, URL-encoded, and as HTTP basic auth. */
export function secretForms(auth: GitAuth | undefined): string[] {
  if (!auth) return [];
  const raw = 'bearerToken' in auth ? [auth.bearerToken] : [auth.password, basicToken(auth)];
  return raw.filter((s) => s.length > 0).flatMap((s) => [s, encodeURIComponent(s)]);
}

export type GitAuth = { username: string; password: string } | { bearerToken: string };

export const basicToken = (auth: { username: string; password: string }): string =>
  Buffer.from(`${auth.username}:${auth.password}`).toString('base64');

/** Removes URL user-info (`https://user:token@host`) and every given secret from text. */
export function redact(text: string, secrets: readonly string[] = []): string {
  let out = text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/\s@]+@/gi, `$1${MASK}@`);
  // Longest first, so a secret containing another is masked whole.
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    if (secret) out = out.split(secret).join(MASK);
  }
  return out;
}

/** A URL fit for messages: no user-info, no query (tokens hide there too). */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    u.search = '';
    return u.toString();
  } catch {
    return redact(url);
  }
}
