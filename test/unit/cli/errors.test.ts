import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiException } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { apiStatus, CliError, explainFailure, type Operation } from '../../../cli/errors.ts';
import { connect, kubeconfigUser, loadKubeConfig } from '../../../cli/kube.ts';
import { describeNeeds, PERMISSIONS, permissionsTable } from '../../../cli/verbs.ts';

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
    for (const command of ['promote', 'abort', 'retry', 'pause', 'resume'] as const) {
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
});
