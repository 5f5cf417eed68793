import { ApiException } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseInvocation } from '../../../cli/args.ts';
import {
  type DeploymentReader,
  deploymentVersion,
  imageTag,
  runVersion,
} from '../../../cli/commands/version.ts';
import type { Io } from '../../../cli/io.ts';
import { main as kubectlSluice } from '../../../cli/kubectl-sluice-main.ts';
import { permissionsTable } from '../../../cli/verbs.ts';
import { registerBuildInfo } from '../../../controller/build-info.ts';
import { main as sluice } from '../../../controller/command-line.ts';
import { packageVersion, REVISION, VERSION } from '../../../controller/version.ts';

afterEach(() => vi.restoreAllMocks());

function capture(): { io: Io; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { out: (t) => out.push(t), err: (t) => err.push(t), now: () => new Date(0), isTTY: false },
    out,
    err,
  };
}

/**
 * Stand-in for the API server's Deployment read: the unit tier has no API server, and what is
 * tested here is what the command makes of each answer (the sandbox serves real ones).
 */
const answering =
  (answer: () => Promise<unknown>): (() => DeploymentReader) =>
  () => ({
    readNamespacedDeployment: answer as DeploymentReader['readNamespacedDeployment'],
  });
const status = (code: number, message: string) =>
  new ApiException(code, 'HTTP error', JSON.stringify({ kind: 'Status', code, message }), {});

describe('the version, from source', () => {
  it("is package.json's with -dev and no revision", () => {
    expect(packageVersion()).toMatch(/^\d+\.\d+\.\d+/);
    expect(VERSION).toBe(`${packageVersion()}-dev`);
    expect(REVISION).toBeUndefined();
  });

  it('sluice --version and sluice version print it', async () => {
    const lines: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((t: string) => lines.push(t));
    expect(await sluice(['--version'])).toBe(0);
    expect(await sluice(['version'])).toBe(0);
    expect(lines).toEqual([`sluice ${VERSION}`, `sluice ${VERSION}`]);
  });
});

describe('kubectl sluice version', () => {
  it('says the controller is unknown, and why, when its Deployment cannot be read; still exit 0', async () => {
    const cases: [unknown, string][] = [
      [
        status(403, 'deployments.apps "sluice-controller" is forbidden'),
        'forbidden to get deployments in namespace "ops"',
      ],
      [
        status(404, 'not found'),
        'no deployment "sluice-controller" in namespace "ops" (see --controller-namespace)',
      ],
      [status(500, 'etcd is sad'), 'HTTP 500: etcd is sad'],
      [new Error('connect ECONNREFUSED 127.0.0.1:6443'), 'connect ECONNREFUSED 127.0.0.1:6443'],
    ];
    for (const [failure, why] of cases) {
      const { io, out } = capture();
      expect(
        await runVersion(
          io,
          'ops',
          answering(() => Promise.reject(failure)),
        ),
      ).toBe(0);
      expect(out).toEqual([`client: ${VERSION}`, `controller: unknown (${why})`]);
    }
  });

  it('gives up on an API server that does not answer', async () => {
    const { io, out } = capture();
    expect(
      await runVersion(
        io,
        'ops',
        answering(() => new Promise(() => {})),
        20,
      ),
    ).toBe(0);
    expect(out[1]).toBe('controller: unknown (no answer from the API server in 0.02 s)');
  });

  it('reads the version label, else the image tag', async () => {
    const labelled = {
      metadata: { labels: { 'app.kubernetes.io/version': '0.2.0' } },
      spec: { template: { spec: { containers: [{ name: 'controller', image: 'mirror/sluice:latest' }] } } },
    };
    const { io, out } = capture();
    await runVersion(
      io,
      'sluice-system',
      answering(() => Promise.resolve(labelled)),
    );
    expect(out[1]).toBe('controller: 0.2.0');
    expect(deploymentVersion({ spec: labelled.spec })).toBe('latest');
    expect(deploymentVersion({})).toBeUndefined();
    expect(imageTag('registry:5000/sluice:0.3.1')).toBe('0.3.1');
    expect(imageTag('registry:5000/sluice')).toBeUndefined();
    expect(imageTag('ghcr.io/sluice-dev/sluice:0.2.0@sha256:abc')).toBe('0.2.0');
  });

  it('prints both as one object with -o json or yaml', async () => {
    const labelled = { metadata: { labels: { 'app.kubernetes.io/version': '0.2.0' } } };
    const { io, out } = capture();
    await runVersion(
      io,
      'ops',
      answering(() => Promise.resolve(labelled)),
      5000,
      'json',
    );
    expect(out).toHaveLength(1);
    expect(JSON.parse(out[0]!)).toEqual({ client: { version: VERSION }, controller: { version: '0.2.0' } });
    const unknown = capture();
    expect(
      await kubectlSluice(['version', '-o', 'yaml', '--kubeconfig', '/nonexistent/kubeconfig'], unknown.io),
    ).toBe(0);
    expect(unknown.out).toEqual([
      `client:\n  version: ${VERSION}\ncontroller:\n  unknown: kubeconfig "/nonexistent/kubeconfig" does not exist`,
    ]);
  });

  it('runs without a usable kubeconfig', async () => {
    const { io, out, err } = capture();
    expect(await kubectlSluice(['version', '--kubeconfig', '/nonexistent/kubeconfig'], io)).toBe(0);
    expect(out).toEqual([
      `client: ${VERSION}`,
      'controller: unknown (kubeconfig "/nonexistent/kubeconfig" does not exist)',
    ]);
    expect(err).toEqual([]);
  });

  it('takes --controller-namespace, sluice-system by default, and declares its one read', () => {
    expect(parseInvocation(['version'])).toEqual({
      command: 'version',
      kube: {},
      controllerNamespace: 'sluice-system',
    });
    expect(parseInvocation(['version', '--controller-namespace', 'ops'])).toMatchObject({
      controllerNamespace: 'ops',
    });
    expect(() => parseInvocation(['status', 'x', '--controller-namespace', 'ops'])).toThrow(
      /not a flag of "status"/,
    );
    expect(permissionsTable()).toContain(
      "| `kubectl sluice version` | get deployments (apps) in the controller's namespace |",
    );
  });
});

describe('sluice_build_info', () => {
  it('is 1 with the version, revision and Node.js version as labels', async () => {
    const registry = new Registry();
    registerBuildInfo(registry, { version: '0.2.0', revision: 'abc123', node: 'v20.0.0' });
    expect(await registry.metrics()).toContain(
      'sluice_build_info{version="0.2.0",revision="abc123",node="v20.0.0"} 1',
    );
    const running = new Registry();
    registerBuildInfo(running);
    expect(await running.metrics()).toContain(
      `sluice_build_info{version="${VERSION}",revision="unknown",node="${process.version}"} 1`,
    );
  });
});
