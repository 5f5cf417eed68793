import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiException } from '@kubernetes/client-node';
import { describe, expect, it, onTestFinished } from 'vitest';
import { parseInvocation } from '../../../cli/args.ts';
import { apiStatus, CliError, explainFailure, type Operation } from '../../../cli/errors.ts';
import type { Io } from '../../../cli/io.ts';
import { connect, kubeconfigUser, loadKubeConfig } from '../../../cli/kube.ts';
import { main } from '../../../cli/kubectl-sluice-main.ts';
import { describeNeeds, PERMISSIONS, permissionsTable } from '../../../cli/verbs.ts';
import { silentServer } from '../../support/silent-server.ts';

const who = { user: 'kc-user', server: 'https://127.0.0.1:6443' };
const op: Operation = { command: 'promote', verb: 'patch', resource: 'rollouts/status', namespace: 'shop' };

function status(code: number, message: string, extra: object = {}) {
  return new ApiException(
    code,
    'Unknown API Status Code!',
    JSON.stringify({ kind: 'Status', code, message, ...extra }),
    {},
  );
}

describe('explainFailure', () => {
  it('names verb, resource, namespace, the user the server saw, and everything the command needs', () => {
    const err = status(
      403,
      'rollouts.sluice.dev "checkout" is forbidden: User "system:serviceaccount:shop:viewer" cannot patch resource "rollouts/status" in API group "sluice.dev" in the namespace "shop"',
      { reason: 'Forbidden' },
    );
    expect(explainFailure(err, op, who).message).toBe(
      'forbidden: user "system:serviceaccount:shop:viewer" cannot patch rollouts/status in namespace "shop" ' +
        '(kubectl sluice promote needs: get rollouts, patch rollouts/status)',
    );
  });

  it('falls back to the kubeconfig user when the server names none', () => {
    expect(explainFailure(new ApiException(403, 'x', undefined, {}), op, who).message).toMatch(
      /^forbidden: user "kc-user"/,
    );
  });

  it('reports 401, other statuses and unreachable servers in one line', () => {
    expect(explainFailure(new ApiException(401, 'Unauthorized', undefined, {}), op, who).message).toBe(
      'unauthorized: the API server at https://127.0.0.1:6443 rejected the credentials of "kc-user"',
    );
    expect(
      explainFailure(status(422, 'status.signals.promote.requestedAt: Required value'), op, who).message,
    ).toBe(
      'cannot patch rollouts/status in namespace "shop": HTTP 422: status.signals.promote.requestedAt: Required value',
    );
    const refused = Object.assign(
      new Error('request to https://127.0.0.1:6443/apis failed, reason: connect ECONNREFUSED'),
      {
        code: 'ECONNREFUSED',
      },
    );
    const message = explainFailure(refused, op, who).message;
    expect(message).toMatch(/^cannot reach the API server at https:\/\/127\.0\.0\.1:6443: /);
    expect(message).not.toContain('\n');
  });

  it('passes CliErrors through and reads plain-text bodies', () => {
    const mine = new CliError('already explained');
    expect(explainFailure(mine, op, who)).toBe(mine);
    expect(apiStatus(new ApiException(404, 'x', '404 page not found\n', {}))).toEqual({
      code: 404,
      message: '404 page not found',
    });
    expect(apiStatus(new Error('no code'))).toBeUndefined();
  });
});

describe('permissions', () => {
  it('lists what each command needs', () => {
    expect(describeNeeds('promote')).toBe('get rollouts, patch rollouts/status');
    expect(describeNeeds('undo')).toBe('get rollouts, list replicasets, patch rollouts');
    expect(describeNeeds('set image')).toBe('get rollouts, patch rollouts');
    expect(describeNeeds('get rollout')).toBe(
      'get rollouts, list rollouts, watch rollouts, list replicasets, watch replicasets, list pods, list events, get analysisruns',
    );
    expect(describeNeeds('status')).toBe('get rollouts');
    expect(PERMISSIONS['list rollouts']).toBe(PERMISSIONS['get rollout']);
  });

  it('never lets a signal write anything but rollouts/status', () => {
    for (const command of ['promote', 'abort', 'retry', 'pause', 'resume', 'restart'] as const) {
      const writes = PERMISSIONS[command].filter((p) => p.verb === 'patch').map((p) => p.resource);
      expect(writes).toEqual(['rollouts/status']);
    }
  });

  it('renders the permissions table of docs/operating.md', () => {
    const table = permissionsTable().split('\n');
    expect(table[0]).toBe("| command | needs (in the Rollout's namespace) |");
    expect(table).toContain(
      '| `kubectl sluice promote` | get rollouts (sluice.dev); patch rollouts/status (sluice.dev) |',
    );
    expect(table).toContain(
      '| `kubectl sluice get rollout` | get, list, watch rollouts (sluice.dev); list, watch replicasets (apps); list pods (core); list events (events.k8s.io); get analysisruns (sluice.dev) |',
    );
    expect(table).toHaveLength(2 + Object.keys(PERMISSIONS).length);
  });
});

describe('kubeconfig', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-cli-'));
  const path = join(dir, 'config');
  writeFileSync(
    path,
    `apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: c1
  cluster: {server: "https://dev.example:6443"}
- name: c2
  cluster: {server: "https://prod.example:6443"}
users:
- name: dev-user
  user: {token: abc}
- name: prod-admin
  user: {username: alice, password: pw}
contexts:
- name: dev
  context: {cluster: c1, user: dev-user, namespace: team-a}
- name: prod
  context: {cluster: c2, user: prod-admin}
`,
  );

  it('takes the namespace from the flag, else the context, else default', () => {
    expect(connect({ kubeconfig: path }, 'list rollouts').namespace).toBe('team-a');
    expect(connect({ kubeconfig: path, namespace: 'x' }, 'list rollouts').namespace).toBe('x');
    expect(connect({ kubeconfig: path, context: 'prod' }, 'list rollouts').namespace).toBe('default');
  });

  it('switches context and names the user for `by`', () => {
    const kube = connect({ kubeconfig: path, context: 'prod' }, 'promote');
    expect(kube.identity).toEqual({ user: 'alice', server: 'https://prod.example:6443' });
    expect(kubeconfigUser(loadKubeConfig({ kubeconfig: path }))).toBe('dev-user');
  });

  it('explains a missing file or context in one line', () => {
    expect(() => loadKubeConfig({ kubeconfig: join(dir, 'nope') })).toThrow(
      new CliError(`kubeconfig "${join(dir, 'nope')}" does not exist`),
    );
    expect(() => loadKubeConfig({ kubeconfig: path, context: 'staging' })).toThrow(
      new CliError('context "staging" not found in kubeconfig (contexts: dev, prod)'),
    );
  });

  describe("kubectl's connection flags", () => {
    /** A loopback API server that records each request's headers and answers every GET with one Rollout. */
    async function recordingServer() {
      const seen: IncomingHttpHeaders[] = [];
      const distinct: Record<string, string[]>[] = [];
      const server = createServer((req, res) => {
        seen.push(req.headers);
        distinct.push(req.headersDistinct as Record<string, string[]>);
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({
            apiVersion: 'sluice.dev/v1alpha1',
            kind: 'Rollout',
            metadata: { name: 'checkout', namespace: 'shop', generation: 1 },
            status: { observedGeneration: 1, phase: 'Healthy' },
          }),
        );
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
      return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, distinct };
    }

    const run = async (argv: string[]) => {
      const out: string[] = [];
      const err: string[] = [];
      const io: Io = {
        out: (t) => out.push(t),
        err: (t) => err.push(t),
        now: () => new Date(),
        isTTY: false,
      };
      const code = await main(argv, io);
      return { code, out: out.join('\n'), err: err.join('\n') };
    };

    it('--server, --token, --as and every --as-group reach the API server', async () => {
      const api = await recordingServer();
      const run1 = await run([
        'status',
        'checkout',
        '-n',
        'shop',
        '--kubeconfig',
        path,
        '--server',
        api.url,
        '--token',
        'sekrit',
        '--as',
        'alice',
        '--as-group',
        'devs',
        '--as-group',
        'oncall',
      ]);
      expect(run1).toEqual({ code: 0, out: 'Healthy', err: '' });
      expect(api.seen[0]).toMatchObject({ authorization: 'Bearer sekrit', 'impersonate-user': 'alice' });
      // One header line per group: "devs,oncall" in one line would be one group of that name.
      expect(api.distinct[0]?.['impersonate-group']).toEqual(['devs', 'oncall']);
      const single = await run([
        'status',
        'checkout',
        '--kubeconfig',
        path,
        '-s',
        api.url,
        '--as',
        'bob',
        '--as-group',
        'devs',
      ]);
      expect(single.code).toBe(0);
      expect(api.distinct[1]?.['impersonate-group']).toEqual(['devs']);
      // Without --token the kubeconfig's user (a token here) still authenticates.
      expect(api.seen[1]).toMatchObject({ authorization: 'Bearer abc', 'impersonate-user': 'bob' });
    });

    it('applies them to the kubeconfig: the cluster, the user, and who signals are by', async () => {
      const kube = connect(
        { kubeconfig: path, server: 'https://other.example:6443', token: 't', insecureSkipTlsVerify: true },
        'promote',
      );
      expect(kube.kc.getCurrentCluster()).toMatchObject({
        server: 'https://other.example:6443',
        skipTLSVerify: true,
      });
      expect(kube.kc.getCurrentUser()).toEqual({ name: 'dev-user', token: 't' });
      expect(kube.namespace).toBe('team-a');
      expect(kube.identity.user).toBe('the --token bearer');
      expect(connect({ kubeconfig: path, as: 'alice' }, 'promote').identity.user).toBe('alice');
      const ca = join(dir, 'ca.crt');
      writeFileSync(ca, 'not really a certificate');
      expect(
        connect({ kubeconfig: path, certificateAuthority: ca }, 'list rollouts').kc.getCurrentCluster(),
      ).toMatchObject({ caFile: ca, server: 'https://dev.example:6443' });
      expect(() =>
        connect({ kubeconfig: path, certificateAuthority: join(dir, 'none') }, 'list rollouts'),
      ).toThrow(/--certificate-authority ".*none" does not exist/);
    });

    it('--request-timeout gives up on a server that does not answer, and says so', async () => {
      const silent = await silentServer();
      const started = Date.now();
      const timedOut = await run([
        'status',
        'checkout',
        '-n',
        'shop',
        '--kubeconfig',
        path,
        '-s',
        silent.url,
        '--request-timeout',
        '1s',
      ]);
      expect(timedOut).toEqual({
        code: 1,
        out: '',
        err: `error: no answer from the API server at ${silent.url} to get rollouts in namespace "shop" within 1 s (--request-timeout)`,
      });
      expect(Date.now() - started).toBeLessThan(5000);
    });

    it.each([
      [['--as-group', 'x'], '--as-group needs --as'],
      [['--as', ''], '--as needs a value'],
      [['--server', 'dev.example:6443'], '--server must be an http:// or https:// URL'],
      [['--request-timeout', 'soon'], '--request-timeout must be a duration'],
      [['--insecure-skip-tls-verify', '--certificate-authority', 'ca.crt'], 'exclude each other'],
    ])('refuses %j: %s', (flags, message) => {
      expect(() => parseInvocation(['list', ...flags])).toThrow(message);
    });

    it('parses them on every command', () => {
      expect(
        parseInvocation([
          'promote',
          'x',
          '--as=alice',
          '--as-group',
          'a',
          '--as-group=b',
          '--token',
          't',
          '-s',
          'https://k:6443',
          '--request-timeout=30s',
          '--insecure-skip-tls-verify',
        ]),
      ).toMatchObject({
        kube: {
          as: 'alice',
          asGroups: ['a', 'b'],
          token: 't',
          server: 'https://k:6443',
          requestTimeoutMs: 30_000,
          insecureSkipTlsVerify: true,
        },
      });
      // 0 is no limit, as kubectl reads it.
      expect((parseInvocation(['list', '--request-timeout', '0']) as { kube: object }).kube).toEqual({});
    });
  });
});
