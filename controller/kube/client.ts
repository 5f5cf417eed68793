import { existsSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import {
  ApiException,
  AppsV1Api,
  type ConfigurationOptions,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  EventsV1Api,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';

const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export interface KubeConfigOptions {
  /** Path to a kubeconfig file; falls back to $KUBECONFIG. */
  kubeconfig?: string;
  /** Context to select instead of the file's current-context. */
  context?: string;
}

/**
 * An explicit file wins, then $KUBECONFIG, then the pod's service account, then
 * client-node's default search (~/.kube/config, localhost). In-cluster comes before
 * ~/.kube/config so that a controller image that happens to carry a home kubeconfig still
 * talks to the cluster it runs in.
 */
export function loadKubeConfig(opts: KubeConfigOptions = {}): KubeConfig {
  const kc = new KubeConfig();
  const file = opts.kubeconfig ?? process.env.KUBECONFIG;
  if (file) {
    // $KUBECONFIG may be a path list; loadFromDefault knows how to merge one.
    if (opts.kubeconfig) kc.loadFromFile(file);
    else kc.loadFromDefault();
  } else if (process.env.KUBERNETES_SERVICE_HOST && existsSync(SERVICE_ACCOUNT_TOKEN)) {
    kc.loadFromCluster();
  } else {
    kc.loadFromDefault();
  }
  if (opts.context) {
    // client-node accepts any name here and fails later with a puzzling "no cluster".
    const known = kc.getContexts().map((c) => c.name);
    if (!known.includes(opts.context)) {
      throw new Error(
        `context ${JSON.stringify(opts.context)} not found in kubeconfig (have: ${known.join(', ')})`,
      );
    }
    kc.setCurrentContext(opts.context);
  }
  return kc;
}

export interface Clients {
  kc: KubeConfig;
  core: CoreV1Api;
  apps: AppsV1Api;
  custom: CustomObjectsApi;
  coordination: CoordinationV1Api;
  events: EventsV1Api;
  objects: KubernetesObjectApi;
}

export function makeClients(kc: KubeConfig): Clients {
  return {
    kc,
    core: kc.makeApiClient(CoreV1Api),
    apps: kc.makeApiClient(AppsV1Api),
    custom: kc.makeApiClient(CustomObjectsApi),
    coordination: kc.makeApiClient(CoordinationV1Api),
    events: kc.makeApiClient(EventsV1Api),
    objects: KubernetesObjectApi.makeApiClient(kc),
  };
}

/**
 * Options for a generated client's patch call. The generated APIs default to JSON Patch
 * whatever the body looks like, so a merge patch or an apply must say so in Content-Type.
 */
export function patchOptions(strategy: PatchStrategy): ConfigurationOptions {
  return setHeaderOptions('Content-Type', strategy);
}

export interface ResourcePathParts {
  /** Empty or absent for the core group. */
  group?: string;
  version: string;
  plural: string;
  namespace?: string;
  name?: string;
  subresource?: string;
}

export function resourcePath(p: ResourcePathParts): string {
  const root = p.group ? `/apis/${p.group}/${p.version}` : `/api/${p.version}`;
  const ns = p.namespace ? `/namespaces/${encodeURIComponent(p.namespace)}` : '';
  const name = p.name ? `/${encodeURIComponent(p.name)}` : '';
  const sub = p.name && p.subresource ? `/${p.subresource}` : '';
  return `${root}${ns}/${p.plural}${name}${sub}`;
}

export interface RawRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  /** Abort the request (e.g. on informer restart). */
  signal?: AbortSignal;
}

/**
 * A JSON request by path, with the kubeconfig's TLS and credentials. Used where the
 * generated clients get in the way: they re-serialise bodies through typed models (which
 * drops unknown fields and `null`s a merge patch relies on) and turn timestamps into Dates,
 * while watch events arrive as plain JSON. Non-2xx answers throw an ApiException so that
 * isNotFound/isConflict work the same for every call.
 */
export async function requestJson<T>(kc: KubeConfig, req: RawRequest): Promise<T> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  const url = new URL(cluster.server + req.path);
  for (const [k, v] of Object.entries(req.query ?? {})) {
    if (v !== undefined) url.searchParams.set(k, String(v));
  }
  const opts: https.RequestOptions = { method: req.method, headers: {} };
  await kc.applyToHTTPSOptions(opts);
  const headers = (opts.headers ?? {}) as Record<string, string>;
  headers.Accept = 'application/json';
  let payload: string | undefined;
  if (req.body !== undefined) {
    payload = typeof req.body === 'string' ? req.body : JSON.stringify(req.body);
    headers['Content-Type'] = req.contentType ?? 'application/json';
    headers['Content-Length'] = String(Buffer.byteLength(payload));
  }
  opts.headers = headers;
  if (req.signal) opts.signal = req.signal;
  const transport = url.protocol === 'https:' ? https : http;
  opts.agent = keepAliveAgent(url.protocol);
  return new Promise<T>((resolve, reject) => {
    const r = transport.request(url, opts, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try {
          body = text ? JSON.parse(text) : undefined;
        } catch {
          // Not JSON (a proxy's HTML error page, say): keep the text for the exception.
        }
        const code = res.statusCode ?? 0;
        if (code >= 200 && code < 300) resolve(body as T);
        else {
          const message =
            typeof body === 'object' && body !== null && 'message' in body
              ? String((body as { message: unknown }).message)
              : text.slice(0, 200);
          reject(
            new ApiException(
              code,
              `${req.method} ${req.path}: ${code} ${message}`,
              body,
              flatHeaders(res.headers),
            ),
          );
        }
      });
    });
    r.on('error', reject);
    if (payload !== undefined) r.write(payload);
    r.end();
  });
}

// Without a keep-alive agent every request pays a TCP and TLS handshake (a new secure
// context, certificate parsing): measured as most of the controller's CPU per canary step.
// Node pools sockets by host and TLS options, so one agent serves every kubeconfig safely.
const agents = {
  'https:': new https.Agent({ keepAlive: true }),
  'http:': new http.Agent({ keepAlive: true }),
};
const keepAliveAgent = (protocol: string) => (protocol === 'https:' ? agents['https:'] : agents['http:']);

function flatHeaders(h: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

/** RFC 7386 merge patch by path (append `/status` to reach the status subresource). */
export function mergePatch<T>(
  kc: KubeConfig,
  path: string,
  patch: unknown,
  opts: { fieldManager?: string } = {},
): Promise<T> {
  return requestJson<T>(kc, {
    method: 'PATCH',
    path,
    body: patch,
    contentType: PatchStrategy.MergePatch,
    query: { fieldManager: opts.fieldManager },
  });
}

/**
 * Server-side apply by path. `force` takes ownership of fields another manager holds; leave
 * it off when a conflict should be reported instead (e.g. someone else owns the weights).
 */
export function applyPatch<T>(
  kc: KubeConfig,
  path: string,
  obj: unknown,
  opts: { fieldManager: string; force?: boolean },
): Promise<T> {
  return requestJson<T>(kc, {
    method: 'PATCH',
    path,
    body: obj,
    contentType: PatchStrategy.ServerSideApply,
    query: { fieldManager: opts.fieldManager, force: opts.force },
  });
}

/**
 * The HTTP status behind an error from any of our paths: ApiException (generated clients
 * and requestJson) carries `code`; client-node's Watch sets `statusCode`; a watch ERROR
 * event carries a Status object with `code`.
 */
export function statusCode(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; statusCode?: unknown; body?: { code?: unknown } };
  if (typeof e.code === 'number') return e.code;
  if (typeof e.statusCode === 'number') return e.statusCode;
  if (typeof e.body === 'object' && e.body !== null && typeof e.body.code === 'number') return e.body.code;
  return undefined;
}

/**
 * One line for logs. ApiException's own message carries the whole response body and headers,
 * which buries the reason and repeats server internals in every log line.
 */
export function errorMessage(err: unknown): string {
  if (err instanceof ApiException) {
    const body = err.body as { message?: unknown } | undefined;
    const msg = typeof body === 'object' && body && typeof body.message === 'string' ? body.message : '';
    return `HTTP ${err.code}${msg ? `: ${msg}` : ''}`;
  }
  if (err instanceof Error) return err.message;
  if (typeof err === 'object' && err !== null && 'message' in err)
    return String((err as { message: unknown }).message);
  try {
    return JSON.stringify(err);
  } catch {
    return String(err);
  }
}

export const isNotFound = (err: unknown): boolean => statusCode(err) === 404;
export const isConflict = (err: unknown): boolean => statusCode(err) === 409;
export const isForbidden = (err: unknown): boolean => statusCode(err) === 403;
export const isGone = (err: unknown): boolean => statusCode(err) === 410;
