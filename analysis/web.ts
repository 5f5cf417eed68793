// Argo Rollouts' `web` metric: one HTTP request to an address the admin allows, a JSONPath into
// its answer, the value judged by the metric's CEL conditions. The address and everything it
// answers are the tenant's: the request has one deadline for the whole answer, the answer a
// byte cap, redirects are never followed, and only a number, a boolean or a list of numbers is
// ever taken from it, so no text an internal page answered reaches status.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { WebProvider } from '../crds/index.ts';
import { followJsonPath, JsonPathError, parseJsonPath } from './jsonpath.ts';
import { MAX_SERIES, ProviderError, type QueryResult } from './provider.ts';

/** 1 MiB: a measurement endpoint answers a few fields; anything larger is not meant for a gate. */
export const MAX_WEB_RESPONSE_BYTES = 1024 * 1024;
/** Argo Rollouts' default. */
export const DEFAULT_WEB_TIMEOUT_SECONDS = 10;

const NUMERIC = /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/;

/** Takes one web measurement: the value at jsonPath, as conditions read it. Throws ProviderError. */
export async function measureWeb(web: WebProvider, timeoutMs: number): Promise<QueryResult> {
  const url = web.url;
  // Checked before any request: a path the answer can never satisfy is the template's error.
  let path: ReturnType<typeof parseJsonPath> | undefined;
  try {
    path = web.jsonPath === undefined ? undefined : parseJsonPath(web.jsonPath);
  } catch (err) {
    throw new ProviderError((err as Error).message, url, false);
  }
  const { status, body } = await send(web, timeoutMs);
  if (status < 200 || status >= 300) {
    const why = status >= 300 && status < 400 ? ': redirects are not followed' : '';
    throw new ProviderError(
      `${where(url)} answered HTTP ${status}${why}`,
      url,
      status >= 502 && status <= 504,
    );
  }
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    if (path)
      throw new ProviderError(
        `${where(url)} did not answer JSON, so jsonPath ${web.jsonPath} cannot be read`,
        url,
        false,
      );
    doc = body; // plain text: a number or true/false is still a value
  }
  try {
    return toResult(path ? followJsonPath(doc, path) : doc, web.jsonPath ?? 'the answer');
  } catch (err) {
    if (err instanceof JsonPathError) throw new ProviderError(err.message, url, false);
    throw err;
  }
}

/** The address without its query string: the query may carry arg values, and is the tenant's anyway. */
const where = (url: string) => {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return 'the web address';
  }
};

/** A JSON value as conditions read it; anything else is an error naming what it was. */
export function toResult(value: unknown, what: string): QueryResult {
  if (typeof value === 'boolean') return { kind: 'bool', value };
  if (value === null) return { kind: 'none', reason: `${what} is null` };
  const number = asNumber(value);
  if (number !== undefined) return { kind: 'value', value: number };
  if (Array.isArray(value)) {
    if (value.length === 0) return { kind: 'none', reason: `${what} is an empty list` };
    if (value.length > MAX_SERIES)
      throw new JsonPathError(`${what} holds ${value.length} values, more than the limit of ${MAX_SERIES}`);
    const values = value.map(asNumber);
    if (values.every((v) => v !== undefined)) return { kind: 'list', values: values as number[] };
    throw new JsonPathError(`${what} is a list of something other than numbers: point jsonPath at one value`);
  }
  const kind = typeof value === 'string' ? 'a string that is not a number' : 'an object';
  throw new JsonPathError(
    `${what} is ${kind}; a web metric's result must be a number, a numeric string, true/false or a list of numbers`,
  );
}

function asNumber(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && NUMERIC.test(v)) return Number(v);
  return undefined;
}

/** The request, bounded: one deadline for connect and the whole answer, a byte cap, no redirects. */
function send(web: WebProvider, timeoutMs: number): Promise<{ status: number; body: string }> {
  const url = new URL(web.url);
  const headers: Record<string, string> = { accept: 'application/json', 'user-agent': 'sluice-analysis' };
  for (const h of web.headers ?? []) headers[h.key.toLowerCase()] = h.value;
  let body: string | undefined = web.body;
  if (web.jsonBody !== undefined) {
    body = JSON.stringify(web.jsonBody);
    headers['content-type'] ??= 'application/json';
  }
  const signal = AbortSignal.timeout(timeoutMs);
  const https = url.protocol === 'https:';
  return new Promise((resolve, reject) => {
    const fail = (message: string, unreachable: boolean, detail?: string) =>
      reject(new ProviderError(message, web.url, unreachable, detail ? { detail } : undefined));
    let req: ReturnType<typeof httpRequest>;
    try {
      const options = {
        method: web.method ?? 'GET',
        headers,
        signal,
        ...(https ? { rejectUnauthorized: web.insecure !== true } : {}),
      };
      req = https ? httpsRequest(url, options) : httpRequest(url, options);
    } catch (err) {
      // A header value Node refuses (a newline in it, say) never leaves the process.
      fail(`the web request cannot be sent: ${(err as Error).message}`, false);
      return;
    }
    // A server trickling its answer a byte at a time would never trip an idle timer.
    signal.addEventListener(
      'abort',
      () => fail(`${where(web.url)} did not answer in time (${timeoutMs} ms)`, true),
      {
        once: true,
      },
    );
    req.on('error', (err: Error & { code?: string }) => {
      if (signal.aborted) fail(`${where(web.url)} did not answer in time (${timeoutMs} ms)`, true);
      else if (/CERT|SIGNED|TLS|SSL/.test(err.code ?? '')) {
        // The code only (a fixed name), so nothing the server sent reaches status.
        fail(
          `${where(web.url)} presented a TLS certificate that was not accepted (${err.code})`,
          false,
          err.message,
        );
      } else fail(`${where(web.url)} cannot be reached`, true, `${err.code ?? ''} ${err.message}`);
    });
    req.on('response', (res: IncomingMessage) => {
      const declared = Number(res.headers['content-length']);
      if (declared > MAX_WEB_RESPONSE_BYTES) {
        res.destroy();
        fail(tooLarge(web.url), false);
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_WEB_RESPONSE_BYTES) {
          res.destroy();
          fail(tooLarge(web.url), false);
          return;
        }
        chunks.push(chunk);
      });
      res.on('error', () => {
        if (signal.aborted) fail(`${where(web.url)} did not answer in time (${timeoutMs} ms)`, true);
        else fail(`${where(web.url)} broke off its answer`, true);
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
    });
    req.end(body);
  });
}

const tooLarge = (url: string) =>
  `${where(url)} answered with more than ${MAX_WEB_RESPONSE_BYTES / 1024} KiB; a measurement endpoint should answer a few fields`;
