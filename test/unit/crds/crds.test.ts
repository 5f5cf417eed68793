import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { isSluiceKind, parseDuration, parseResource } from '../../../crds/index.ts';
import { renderCrds } from '../../../crds/render.ts';
import { exampleDocuments, invalidFixtures, ROOT } from '../../support/fixtures.ts';

describe('generated CRDs', () => {
  const rendered = renderCrds();

  it.each(rendered.map((r) => [r.file, r.yaml]))('crds/%s equals what the schemas generate', (file, yaml) => {
    expect(readFileSync(join(ROOT, 'crds', file), 'utf8')).toBe(yaml);
  });

  it.each(rendered.map((r) => [r.file, parse(r.yaml)]))('%s is a structural schema', (_file, crd) => {
    const text = JSON.stringify(crd);
    expect(text).not.toContain('"$ref"');
    expect(text).not.toContain('"additionalProperties":false');
    const version = crd.spec.versions[0];
    expect(version.subresources.status).toEqual({});
    expect(
      version.schema.openAPIV3Schema.properties.status.properties.observedGeneration?.type ?? 'integer',
    ).toBe('integer');
  });

  it('keeps the pod template whole and types the fields users read', () => {
    const rollout = parse(rendered.find((r) => r.file === 'rollouts.yaml')!.yaml);
    const version = rollout.spec.versions[0];
    const spec = version.schema.openAPIV3Schema.properties.spec.properties;
    const status = version.schema.openAPIV3Schema.properties.status.properties;
    expect(spec.template['x-kubernetes-preserve-unknown-fields']).toBe(true);
    expect(spec.template.properties.spec['x-kubernetes-preserve-unknown-fields']).toBe(true);
    expect(status.observedGeneration.type).toBe('integer');
    // An int-or-string (Argo's whole seconds, or a duration), both forms checked by one CEL rule.
    const pause = spec.strategy.properties.canary.properties.steps.items.properties.pause.properties.duration;
    expect(pause['x-kubernetes-int-or-string']).toBe(true);
    expect(pause.anyOf).toEqual([{ type: 'integer' }, { type: 'string' }]);
    // Without a length bound the API server prices the regex past its CEL budget (44×, tried).
    expect(pause.maxLength).toBe(32);
    expect(pause['x-kubernetes-validations'][0].rule).toContain("self.matches('^([0-9]+(ms|s|m|h))+$')");
    expect(version.subresources.scale).toEqual({
      specReplicasPath: '.spec.replicas',
      statusReplicasPath: '.status.replicas',
      labelSelectorPath: '.status.selector',
    });
    expect(version.additionalPrinterColumns.map((c: { name: string }) => c.name)).toEqual([
      'Phase',
      'Weight',
      'Step',
      'Current',
      'Stable',
      'Message',
      'Age',
    ]);
    expect(rollout.spec.names.shortNames).toContain('sro');
    expect(rollout.spec.names.categories).toContain('sluice');
  });
});

describe('examples', () => {
  const sluiceDocs = exampleDocuments().filter((d) => isSluiceKind(d.object.kind));

  it('include a canary Rollout, a blue-green Rollout and analysis templates', () => {
    const kinds = sluiceDocs.map((d) => d.object.kind);
    expect(kinds).toEqual(expect.arrayContaining(['Rollout', 'AnalysisTemplate', 'ClusterAnalysisTemplate']));
  });

  it.each(sluiceDocs.map((d) => [`${d.file} (${d.object.kind})`, d]))(
    '%s parses with the zod schemas',
    (_n, doc) => {
      const kind = doc.object.kind;
      if (!isSluiceKind(kind)) throw new Error('filtered above');
      const result = parseResource(kind, doc.object);
      expect(result.ok ? 'ok' : result.message).toBe('ok');
    },
  );
});

describe('invalid fixtures', () => {
  const schemaLevel = invalidFixtures().filter((f) => f.layer !== 'api');

  it('exist for every layer', () => {
    expect(new Set(invalidFixtures().map((f) => f.layer))).toEqual(new Set(['schema', 'api', 'zod']));
  });

  it.each(schemaLevel.map((f) => [f.file, f]))('%s is rejected, naming the field', (_n, fixture) => {
    const kind = fixture.object.kind;
    if (!isSluiceKind(kind)) throw new Error(`${fixture.file}: not a Sluice kind`);
    const result = parseResource(kind, fixture.object);
    expect(result.ok).toBe(false);
    if (!result.ok) for (const part of fixture.expect) expect(result.message).toContain(part);
  });
});

describe('durations', () => {
  it.each([
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1m30s', 90_000],
    ['250ms', 250],
  ])('%s is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '10', 'ten minutes', '-5s', '1.5m', '5d'])('rejects %j', (text) => {
    expect(() => parseDuration(text)).toThrow(/invalid duration/);
  });
});
