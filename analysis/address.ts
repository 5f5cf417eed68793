// Credentials a Prometheus address may carry (`http://user:password@host`): separated from it
// for the request, and kept out of everything shown.

/**
 * An address safe to show anywhere: without the `user:password@` a Prometheus behind basic
 * auth is given as, so credentials never reach a log line, an Event, a status or a message.
 */
export function redactAddress(address: string): string {
  try {
    const url = new URL(address);
    if (!url.username && !url.password) return address;
    url.username = '';
    url.password = '';
    return url.toString().replace(/\/$/, '');
  } catch {
    // Not a URL: show its shape only past a userinfo-like prefix, never the prefix itself.
    return address.replace(/^([a-z][a-z0-9+.-]*:\/\/)?[^/@]*@/i, '$1');
  }
}

/** Basic-auth credentials carried in an address's userinfo, and the address without them. */
export function splitCredentials(address: string): {
  endpoint: string;
  auth?: { username: string; password: string };
} {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    return { endpoint: address };
  }
  if (!url.username && !url.password) return { endpoint: address };
  return {
    endpoint: redactAddress(address),
    auth: { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) },
  };
}

/** Whether the address carries a user or password. */
export const hasCredentials = (address: string): boolean => redactAddress(address) !== address;
