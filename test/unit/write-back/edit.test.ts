import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  applyImageEntry,
  parseImage,
  revertTemplate,
  type SourceFile,
} from '../../../controller/write-back/edit.ts';
import { templateDiff } from '../../../controller/write-back/template-diff.ts';

const fixture = (name: string, as = name): SourceFile => ({
  path: as,
  text: readFileSync(join(import.meta.dirname, 'fixtures', name), 'utf8'),
});

/** The lines that differ between two texts of equal line count, as [before, after] pairs. */
function changedLines(before: string, after: string): [string, string][] {
  const a = before.split('\n');
  const b = after.split('\n');
  expect(b.length).toBe(a.length);
  return a.flatMap((line, i) => (line === b[i] ? [] : [[line, b[i] as string] as [string, string]]));
}

const template = (app: string, sidecar = 'shop/proxy:1.4') => ({
  metadata: { labels: { app: 'web' } },
  spec: {
    containers: [
      { name: 'app', image: app, ports: [{ containerPort: 8080 }] },
      { name: 'sidecar', image: sidecar },
    ],
  },
});

describe('templateDiff', () => {
  it('finds a changed image as one leaf path', () => {
    expect(templateDiff(template('shop/web:1.9.0'), template('shop/web:2.0.0'))).toEqual([
      { path: ['spec', 'containers', 0, 'image'], stable: 'shop/web:1.9.0', failed: 'shop/web:2.0.0' },
    ]);
  });

  it('treats a list that changed length as one change, and sees added and removed fields', () => {
    const stable = { spec: { containers: [{ name: 'a' }], dnsPolicy: 'Default' } };
    const failed = { spec: { containers: [{ name: 'a' }, { name: 'b' }], hostNetwork: true } };
    expect(templateDiff(stable, failed)).toEqual([
      { path: ['spec', 'containers'], stable: [{ name: 'a' }], failed: [{ name: 'a' }, { name: 'b' }] },
      { path: ['spec', 'dnsPolicy'], stable: 'Default', failed: undefined },
      { path: ['spec', 'hostNetwork'], stable: undefined, failed: true },
    ]);
  });
});

describe('revertTemplate', () => {
  const target = { name: 'web', namespace: 'shop' };

  it('changes only the image line of a multi-document file, keeping quotes and comments', () => {
    const file = fixture('rollout-multi.yaml', 'apps/web.yaml');
    const changes = templateDiff(template('shop/web:1.9.0'), template('shop/web:2.0.0'));
    const result = revertTemplate(
      [file, { path: 'apps/notes.txt', text: 'image: shop/web:2.0.0' }],
      target,
      changes,
    );
    if (!result.ok) throw new Error(result.message);
    expect(result.rolloutFile).toBe('apps/web.yaml');
    expect(result.files.map((f) => f.path)).toEqual(['apps/web.yaml']);
    const after = result.files[0]?.text ?? '';
    expect(changedLines(file.text, after)).toEqual([
      [
        '          image: "shop/web:2.0.0"   # keep quoted',
        '          image: "shop/web:1.9.0"   # keep quoted',
      ],
    ]);
  });

  it('reverts two containers at once and leaves the other documents alone', () => {
    const file = fixture('rollout-multi.yaml');
    const changes = templateDiff(
      template('shop/web:1.9.0', 'shop/proxy:1.3'),
      template('shop/web:2.0.0', 'shop/proxy:1.4'),
    );
    const result = revertTemplate([file], target, changes);
    if (!result.ok) throw new Error(result.message);
    expect(changedLines(file.text, result.files[0]?.text ?? '')).toEqual([
      [
        '          image: "shop/web:2.0.0"   # keep quoted',
        '          image: "shop/web:1.9.0"   # keep quoted',
      ],
      ['          image: shop/proxy:1.4', '          image: shop/proxy:1.3'],
    ]);
  });

  it("edits the kustomization's images: entry when the Rollout YAML only holds a placeholder", () => {
    const rollout = fixture('rollout-plain.yaml', 'app/rollout.yaml');
    const kustomization = fixture('kustomization.yaml', 'app/kustomization.yaml');
    const changes = [
      { path: ['spec', 'containers', 0, 'image'], stable: 'shop/web:1.9.0', failed: 'shop/web:2.0.0' },
    ];
    const result = revertTemplate([rollout, kustomization], target, changes);
    if (!result.ok) throw new Error(result.message);
    expect(result.files.map((f) => f.path)).toEqual(['app/kustomization.yaml']);
    expect(changedLines(kustomization.text, result.files[0]?.text ?? '')).toEqual([
      ['    newTag: "2.0.0"', '    newTag: "1.9.0"'],
    ]);
  });

  it('keeps an unquoted numeric newTag unquoted and sets newName when the repository changed', () => {
    const rollout = {
      path: 'r.yaml',
      text: 'apiVersion: sluice.dev/v1alpha1\nkind: Rollout\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers:\n        - {name: app, image: shop/other}\n',
    };
    const kustomization = fixture('kustomization.yaml');
    const tagOnly = revertTemplate([rollout, kustomization], target, [
      {
        path: ['spec', 'containers', 0, 'image'],
        stable: 'registry.local/other:6',
        failed: 'registry.local/other:7',
      },
    ]);
    if (!tagOnly.ok) throw new Error(tagOnly.message);
    expect(changedLines(kustomization.text, tagOnly.files[0]?.text ?? '')).toEqual([
      ['    newTag: 7', '    newTag: 6'],
    ]);
    const moved = revertTemplate([rollout, kustomization], target, [
      {
        path: ['spec', 'containers', 0, 'image'],
        stable: 'mirror.local/other:7',
        failed: 'registry.local/other:7',
      },
    ]);
    if (!moved.ok) throw new Error(moved.message);
    expect(changedLines(kustomization.text, moved.files[0]?.text ?? '')).toEqual([
      ['    newName: registry.local/other', '    newName: mirror.local/other'],
    ]);
  });

  it('adds and removes fields through the Document API, keeping comments', () => {
    const file = fixture('rollout-multi.yaml');
    const result = revertTemplate([file], target, [
      { path: ['spec', 'containers', 1, 'image'], stable: undefined, failed: 'shop/proxy:1.4' },
      { path: ['spec', 'terminationGracePeriodSeconds'], stable: 5, failed: undefined },
    ]);
    if (!result.ok) throw new Error(result.message);
    const after = result.files[0]?.text ?? '';
    expect(after).toContain('# bumped by CI');
    expect(after).toContain('# Shop');
    const docs = after.split(/^---$/m).map((d) => parse(d));
    expect(docs[1].spec.template.spec.containers[1]).toEqual({ name: 'sidecar' });
    expect(docs[1].spec.template.spec.terminationGracePeriodSeconds).toBe(5);
    expect(docs[0].kind).toBe('Service');
  });

  it('refuses when the Rollout is nowhere, or the failed value is not where it should be', () => {
    const other = revertTemplate([fixture('rollout-multi.yaml')], { name: 'web', namespace: 'other' }, []);
    expect(other).toMatchObject({ ok: false, reason: 'NotFound' });
    const moved = revertTemplate([fixture('rollout-multi.yaml')], target, [
      { path: ['spec', 'containers', 0, 'image'], stable: 'shop/web:1.9.0', failed: 'shop/web:3.0.0' },
    ]);
    expect(moved).toMatchObject({ ok: false, reason: 'Unplaced' });
    if (!moved.ok) expect(moved.message).toMatch(/spec\.containers\.0\.image = "shop\/web:3\.0\.0"/);
    const twice = revertTemplate(
      [fixture('rollout-plain.yaml', 'a.yaml'), fixture('rollout-plain.yaml', 'b.yaml')],
      target,
      [],
    );
    expect(twice).toMatchObject({ ok: false, reason: 'NotFound' });
  });

  it('returns no files when git already holds the stable values', () => {
    const file = fixture('rollout-multi.yaml');
    const result = revertTemplate([file], target, []);
    expect(result).toEqual({ ok: true, files: [], rolloutFile: 'rollout-multi.yaml' });
  });
});

describe('image references', () => {
  it('parses registry ports, tags and digests', () => {
    expect(parseImage('registry:5000/shop/web:1.2')).toEqual({ name: 'registry:5000/shop/web', tag: '1.2' });
    expect(parseImage('registry:5000/shop/web')).toEqual({ name: 'registry:5000/shop/web' });
    expect(parseImage('web@sha256:abc')).toEqual({ name: 'web', digest: 'sha256:abc' });
  });

  it('applies a kustomize entry as kustomize does', () => {
    expect(applyImageEntry({ name: 'web', tag: '1' }, { name: 'web', newTag: '2' })).toEqual({
      name: 'web',
      tag: '2',
    });
    expect(applyImageEntry({ name: 'web', tag: '1' }, { name: 'web', digest: 'sha256:x' })).toEqual({
      name: 'web',
      digest: 'sha256:x',
    });
    expect(applyImageEntry({ name: 'web', tag: '1' }, { name: 'web', newName: 'r/web' })).toEqual({
      name: 'r/web',
      tag: '1',
    });
  });
});
