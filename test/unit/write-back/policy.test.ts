import { describe, expect, it } from 'vitest';
import {
  argoManages,
  fluxInventoryId,
  fluxManages,
  fluxSourceOf,
  fromFlux,
  showObject,
} from '../../../controller/write-back/discover.ts';
import {
  checkPath,
  checkUrl,
  DEFAULT_POLICY,
  policyRefusal,
  type RepositoryChoice,
  urlAllowed,
} from '../../../controller/write-back/policy.ts';

const HTTPS = ['https'] as const;

describe('repository URL rules', () => {
  it.each([
    [
      'file:///srv/git/shop.git',
      /scheme 'file' is not allowed: only https \(the admin allows http with --git-allow-http\)/,
    ],
    ['ext::sh -c touch% /tmp/pwned', /not an absolute URL|scheme 'ext' is not allowed/],
    ['/srv/git/shop.git', /not an absolute URL \(local paths/],
    ['../other-team', /not an absolute URL/],
    ['git@github.com:acme/shop.git', /scheme 'git@github.com' is not allowed|not an absolute URL/],
    ['ssh://git@github.com/acme/shop.git', /scheme 'ssh' is not allowed/],
    ['git://github.com/acme/shop.git', /scheme 'git' is not allowed/],
    ['http://git.example/shop.git', /scheme 'http' is not allowed/],
    ['https://bot:tok@git.example/shop.git', /carries credentials; put them in a Secret/],
    ['https://git.example/acme/../other/shop.git', /'\.' or '\.\.' segments/],
    ['https://git.example/acme/%2e%2E/other/shop.git', /'\.' or '\.\.' segments/],
  ])('refuses %s', (url, message) => {
    const out = checkUrl(url, HTTPS);
    expect(out.ok).toBe(false);
    if (!out.ok) expect(out.message).toMatch(message);
  });

  it('accepts https, and http only when allowed; git is given the parsed form', () => {
    expect(checkUrl('https://git.example/acme/shop.git', HTTPS)).toEqual({
      ok: true,
      value: 'https://git.example/acme/shop.git',
    });
    expect(checkUrl('HTTPS://Git.Example:443/acme/shop.git', HTTPS)).toEqual({
      ok: true,
      value: 'https://git.example/acme/shop.git',
    });
    expect(checkUrl('http://127.0.0.1:8080/shop.git', ['https', 'http']).ok).toBe(true);
  });

  it('matches allowed prefixes on host and path-segment boundaries only', () => {
    const prefixes = ['https://git.example/acme', 'https://other.example/team-a/'];
    expect(urlAllowed('https://git.example/acme/shop.git', prefixes)).toBe(true);
    expect(urlAllowed('https://git.example/acme', prefixes)).toBe(true);
    expect(urlAllowed('https://git.example/acme-evil/shop.git', prefixes)).toBe(false);
    expect(urlAllowed('https://git.example.evil.io/acme/shop.git', prefixes)).toBe(false);
    expect(urlAllowed('https://git.example:8443/acme/shop.git', prefixes)).toBe(false);
    expect(urlAllowed('http://git.example/acme/shop.git', prefixes)).toBe(false);
    expect(urlAllowed('https://other.example/team-a/x.git', prefixes)).toBe(true);
    expect(urlAllowed('https://other.example/team-b/x.git', prefixes)).toBe(false);
    expect(urlAllowed('https://anything.example/x.git', [])).toBe(true);
  });
});

describe('repository path rules', () => {
  it('keeps a path inside the repository', () => {
    expect(checkPath('')).toEqual({ ok: true, value: '' });
    expect(checkPath('apps/./web/')).toEqual({ ok: true, value: 'apps/web' });
    expect(checkPath('../../..')).toMatchObject({
      ok: false,
      message: expect.stringMatching(/'\.\.' is not allowed/),
    });
    expect(checkPath('apps/../../etc')).toMatchObject({ ok: false });
    expect(checkPath('/etc/passwd')).toMatchObject({ ok: false, message: expect.stringMatching(/relative/) });
    expect(checkPath('apps/.git/config')).toMatchObject({
      ok: false,
      message: expect.stringMatching(/\.git/),
    });
    expect(checkPath('apps\nweb')).toMatchObject({ ok: false, message: expect.stringMatching(/control/) });
  });
});

describe('write-back policy', () => {
  const choice = (over: Partial<RepositoryChoice> = {}): RepositoryChoice => ({
    url: 'https://git.example/acme/shop.git',
    path: 'apps',
    overridden: [],
    ...over,
  });
  const open = { ...DEFAULT_POLICY, tenantRepositories: true };

  it('refuses a Rollout that names its own repository unless the admin allows it', () => {
    expect(
      policyRefusal(choice({ overridden: ['url', 'secretRef'], secretFrom: 'spec' }), DEFAULT_POLICY),
    ).toMatch(/spec\.writeBack\.repository sets url, secretRef.*--write-back-tenant-repositories/);
    expect(
      policyRefusal(choice({ overridden: ['url', 'secretRef'], secretFrom: 'spec' }), open),
    ).toBeUndefined();
    expect(policyRefusal(choice(), DEFAULT_POLICY)).toBeUndefined();
  });

  it('never pairs discovered credentials with a URL, branch or path the tenant chose', () => {
    for (const field of ['url', 'branch', 'path'] as const)
      expect(policyRefusal(choice({ overridden: [field], secretFrom: 'discovered' }), open)).toMatch(
        new RegExp(
          `overrides ${field} of the discovered repository.*give spec\\.writeBack\\.repository\\.secretRef`,
        ),
      );
    expect(
      policyRefusal(choice({ overridden: ['branch', 'secretRef'], secretFrom: 'spec' }), open),
    ).toBeUndefined();
  });

  it('applies scheme, prefix, path and branch rules to discovered repositories too', () => {
    expect(policyRefusal(choice({ url: 'file:///srv/git/x.git' }), DEFAULT_POLICY)).toMatch(/scheme 'file'/);
    expect(policyRefusal(choice({ url: 'http://git.example/acme/shop.git' }), DEFAULT_POLICY)).toMatch(
      /http/,
    );
    expect(
      policyRefusal(choice({ url: 'http://git.example/acme/shop.git' }), {
        ...DEFAULT_POLICY,
        allowHttp: true,
      }),
    ).toBeUndefined();
    const fenced = { ...DEFAULT_POLICY, allowedUrlPrefixes: ['https://git.example/other'] };
    expect(policyRefusal(choice(), fenced)).toMatch(/outside the prefixes.*--write-back-allowed-urls/);
    expect(policyRefusal(choice({ path: '../x' }), DEFAULT_POLICY)).toMatch(/'\.\.'/);
    expect(policyRefusal(choice({ branch: '--upload-pack=touch /tmp/x' }), DEFAULT_POLICY)).toMatch(
      /start with '-'/,
    );
  });
});

describe('discovery follows only objects that manage the Rollout', () => {
  const web = { namespace: 'team-a', name: 'web' };

  it("reads Flux's inventory and Argo CD's resources, not the tenant's labels", () => {
    expect(fluxInventoryId(web)).toBe('team-a_web_sluice.dev_Rollout');
    const k = (ids: string[]) => ({
      metadata: { name: 'apps', namespace: 'team-b' },
      status: { inventory: { entries: ids.map((id) => ({ id, v: 'v1alpha1' })) } },
    });
    expect(fluxManages(k(['team-a_web_sluice.dev_Rollout']), web)).toBe(true);
    expect(fluxManages(k(['team-b_web_sluice.dev_Rollout', 'team-a_web_apps_Deployment']), web)).toBe(false);
    expect(fluxManages({ metadata: {} }, web)).toBe(false);
    const app = (resources: object[]) => ({ metadata: { name: 'shop' }, status: { resources } });
    expect(
      argoManages(app([{ group: 'sluice.dev', kind: 'Rollout', namespace: 'team-a', name: 'web' }]), web),
    ).toBe(true);
    expect(
      argoManages(app([{ group: 'sluice.dev', kind: 'Rollout', namespace: 'team-b', name: 'web' }]), web),
    ).toBe(false);
    expect(argoManages(app([]), web)).toBe(false);
  });

  it("names objects of the Rollout's namespace only", () => {
    expect(showObject('GitRepository', { namespace: 'team-a', name: 'shop' }, 'team-a')).toBe(
      'GitRepository team-a/shop',
    );
    expect(showObject('GitRepository', { namespace: 'team-b', name: 'secret-repo' }, 'team-a')).toBe(
      'a GitRepository in another namespace',
    );
    // Argo CD's Applications usually live in argocd, away from the Rollout: every message names one so.
    expect(showObject('Argo CD Application', { namespace: 'argocd', name: 'shop' }, 'team-a')).toBe(
      'an Argo CD Application in another namespace',
    );
    const k = {
      metadata: { name: 'apps', namespace: 'team-b' },
      spec: { sourceRef: { kind: 'OCIRepository', name: 'x' } },
    };
    expect(fluxSourceOf(k, 'team-a')).not.toMatch(/team-b|apps/);
    const repo = {
      metadata: { name: 'secret-repo', namespace: 'team-b' },
      spec: { url: 'https://g/x.git', secretRef: { name: 'tok' } },
    };
    const found = fromFlux(
      { ...k, spec: { sourceRef: { kind: 'GitRepository', name: 'secret-repo' } } },
      repo,
      'team-a',
    );
    expect(found.origin).not.toMatch(/team-b|apps|secret-repo/);
    expect(found).toMatchObject({
      secretFrom: 'discovered',
      secretRef: { name: 'tok', namespace: 'team-b' },
    });
  });
});
