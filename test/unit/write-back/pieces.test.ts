import { describe, expect, it } from 'vitest';
import { authFromSecretData } from '../../../controller/write-back/credentials.ts';
import {
  fluxSourceOf,
  fromArgo,
  fromFlux,
  normalizePath,
  originOf,
  withOverrides,
} from '../../../controller/write-back/discover.ts';
import { commitMessage } from '../../../controller/write-back/message.ts';
import { displayUrl, redact, secretForms } from '../../../controller/write-back/redact.ts';
import type { Rollout } from '../../../crds/index.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('redact', () => {
  it('removes URL user-info and every form of the secrets', () => {
    const auth = { username: 'flux', password: 'p@ss/word' };
    const forms = secretForms(auth);
    const text = `fatal: unable to access 'https://flux:p%40ss%2Fword@git.example/x.git/': header Basic ${b64('flux:p@ss/word')} and p@ss/word`;
    const out = redact(text, forms);
    expect(out).toBe("fatal: unable to access 'https://***@git.example/x.git/': header Basic *** and ***");
    expect(redact('Bearer abc.def', secretForms({ bearerToken: 'abc.def' }))).toBe('Bearer ***');
    expect(redact('nothing to hide')).toBe('nothing to hide');
  });

  it('shows URLs without user-info or query', () => {
    expect(displayUrl('https://u:t@git.example/shop.git?token=x')).toBe('https://git.example/shop.git');
    expect(displayUrl('git@github.com:shop/app.git')).toBe('git@github.com:shop/app.git');
    expect(displayUrl('not a url with://u:p@host')).toBe('not a url with://***@host');
  });
});

describe('discovery mapping', () => {
  it('reads Flux labels before an Argo CD tracking id', () => {
    expect(
      originOf({
        labels: {
          'kustomize.toolkit.fluxcd.io/name': 'apps',
          'kustomize.toolkit.fluxcd.io/namespace': 'flux-system',
        },
        annotations: { 'argocd.argoproj.io/tracking-id': 'shop:sluice.dev/Rollout:shop/web' },
      }),
    ).toEqual({ kind: 'flux', name: 'apps', namespace: 'flux-system' });
    expect(
      originOf({ annotations: { 'argocd.argoproj.io/tracking-id': 'shop:sluice.dev/Rollout:shop/web' } }),
    ).toEqual({
      kind: 'argocd',
      application: 'shop',
    });
    expect(
      originOf({
        annotations: { 'argocd.argoproj.io/tracking-id': 'team-a_shop:sluice.dev/Rollout:shop/web' },
      }),
    ).toEqual({ kind: 'argocd', namespace: 'team-a', application: 'shop' });
    expect(originOf({ labels: { 'kustomize.toolkit.fluxcd.io/name': 'apps' } })).toBeUndefined();
    expect(originOf({})).toBeUndefined();
  });

  it('maps a Kustomization and its GitRepository to url, branch, path and secret', () => {
    const k = {
      metadata: { name: 'apps', namespace: 'flux-system' },
      spec: { path: './clusters/prod/', sourceRef: { kind: 'GitRepository', name: 'shop' } },
    };
    expect(fluxSourceOf(k)).toEqual({ name: 'shop', namespace: 'flux-system' });
    expect(fluxSourceOf({ ...k, spec: { sourceRef: { kind: 'OCIRepository', name: 'x' } } })).toMatch(
      /OCIRepository/,
    );
    const repo = {
      metadata: { name: 'shop', namespace: 'flux-system' },
      spec: { url: 'https://git.example/shop.git', ref: { branch: 'prod' }, secretRef: { name: 'git-auth' } },
    };
    expect(fromFlux(k, repo)).toMatchObject({
      url: 'https://git.example/shop.git',
      branch: 'prod',
      path: 'clusters/prod',
      secretRef: { name: 'git-auth', namespace: 'flux-system' },
    });
  });

  it("maps an Argo CD Application's source; HEAD means the default branch", () => {
    const app = {
      metadata: { name: 'shop', namespace: 'argocd' },
      spec: { source: { repoURL: 'https://git.example/shop.git', targetRevision: 'HEAD', path: 'apps/web' } },
    };
    expect(fromArgo(app)).toMatchObject({
      url: 'https://git.example/shop.git',
      branch: undefined,
      path: 'apps/web',
    });
    expect(
      fromArgo({
        metadata: app.metadata,
        spec: { sources: [{ repoURL: 'h', targetRevision: 'main', path: 'x' }] },
      }),
    ).toMatchObject({ url: 'h', branch: 'main', path: 'x' });
  });

  it('lets spec.writeBack.repository override what was found', () => {
    const rollout = {
      metadata: { name: 'web', namespace: 'shop' },
      spec: { writeBack: { repository: { branch: 'hotfix', secretRef: { name: 'mine' } } } },
    } as unknown as Rollout;
    const found = { url: 'u', branch: 'main', path: 'p', origin: 'Flux', overridden: [] };
    expect(withOverrides(found, rollout)).toEqual({
      url: 'u',
      branch: 'hotfix',
      path: 'p',
      secretRef: { name: 'mine', namespace: 'shop' },
      secretFrom: 'spec',
      overridden: ['branch', 'secretRef'],
      origin: 'Flux, overridden by spec.writeBack.repository',
    });
    expect(normalizePath('./')).toBe('');
    expect(normalizePath('/a/b/')).toBe('a/b');
  });
});

describe('credentials from a Flux-format Secret', () => {
  it('prefers bearerToken, else username and password', () => {
    expect(authFromSecretData({ bearerToken: b64('t'), username: b64('u'), password: b64('p') })).toEqual({
      bearerToken: 't',
    });
    expect(authFromSecretData({ username: b64('u'), password: b64('p') })).toEqual({
      username: 'u',
      password: 'p',
    });
    expect(authFromSecretData({ identity: b64('ssh key') })).toBeUndefined();
    expect(authFromSecretData(undefined)).toBeUndefined();
  });
});

describe('commitMessage', () => {
  it('names the Rollout, both revisions, the gate and each field', () => {
    const text = commitMessage({
      namespace: 'shop',
      name: 'web',
      failedRevision: 'r2',
      stableRevision: 'r1',
      reason: 'background analysis web-r2-bg-a0 failed: success-rate 91 < 99',
      changes: [{ path: ['spec', 'containers', 0, 'image'], stable: 'shop/web:1', failed: 'shop/web:2' }],
    });
    expect(text.split('\n')[0]).toBe('sluice: roll back shop/web from r2 to r1');
    expect(text).toContain('automatically: background analysis web-r2-bg-a0 failed: success-rate 91 < 99.');
    expect(text).toContain('spec.template.spec.containers.0.image: shop/web:2 -> shop/web:1');
  });
});
