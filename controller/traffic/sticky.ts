// Version-sticky sessions, the part both routers share: the cookie a canary answer sets, the
// pattern a request carrying it matches, and how Sluice knows the routes and cookies it added.
// A sticky route is a copy of a weighted route that also asks for the cookie and sends
// everything to the canary; it goes just ahead of the route it copies, so it wins exactly
// where that route would have applied, and nowhere else.
import { escapeRegex } from '../../analysis/promql.ts';
import type { RequestRoutes, Session } from '../../machines/desired.ts';

/** Sluice's own sticky routes and rules are named with this, ahead of the route they copy. */
export const STICKY_PREFIX = 'sluice-sticky-';

export const isStickyName = (name: unknown): boolean =>
  typeof name === 'string' && name.startsWith(STICKY_PREFIX);

/** A sticky route's name: the weighted route's name, or its place when it has none. */
export const stickyName = (name: string | undefined, index: number): string =>
  `${STICKY_PREFIX}${name ?? `route-${index}`}`;

/** Browsers keep a cookie at most 400 days (RFC 6265bis); a longer Max-Age only says more than is kept. */
const MAX_AGE_CAP_S = 400 * 86_400;

/** The Cookie header of a request in the session: the cookie among any others (RE2, whole value). */
export const cookiePattern = (s: Session & { revision: string }): string =>
  `^(.*;\\s*)?${escapeRegex(s.cookieName)}=${escapeRegex(s.revision)}(;.*)?$`;

/** The Set-Cookie a canary answer carries: the revision, so an old release's cookie means nothing. */
export const setCookie = (s: Session & { revision: string }): string =>
  `${s.cookieName}=${s.revision}; Max-Age=${Math.min(s.maxAgeSeconds, MAX_AGE_CAP_S)}; Path=/`;

/** Whether a Set-Cookie value is one Sluice wrote for this cookie name. */
export const isOurCookie = (value: unknown, cookieName: string): boolean =>
  typeof value === 'string' && value.startsWith(`${cookieName}=`);

/** Sluice's own mirror routes: they serve at the weights, so they get a sticky copy too. */
export const mirrorNames = (routes: RequestRoutes): string[] =>
  routes.wanted.flatMap((r) => ('mirror' in r ? [r.name] : []));
