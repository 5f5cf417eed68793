import { describe, expect, it } from 'vitest';
import { ArgValueError, resolveArgValues } from '../../../analysis/arg-values.ts';
import { templateKey } from '../../../analysis/resolve.ts';
import { analysisRunFor } from '../../../controller/analysis/runs.ts';
import { GateArg, type Rollout } from '../../../crds/index.ts';

const rollout = {
  apiVersion: 'sluice.dev/v1alpha1',
  kind: 'Rollout',
  metadata: {
    name: 'web',
    namespace: 'shop',
    uid: 'u1',
    labels: { env: 'prod', 'app.kubernetes.io/name': 'web' },
    annotations: { region: 'eu-west-1' },
  },
  spec: {
    replicas: 3,
    selector: { matchLabels: { app: 'web' } },
    template: { metadata: { labels: { app: 'web', version: '7' } }, spec: { containers: [] } },
    strategy: { canary: { stableService: 's', canaryService: 'c', steps: [] } },
  },
  status: { stableRevision: 'stable1', currentRevision: 'new2' },
} as unknown as Rollout;

const revisions = { stable: 'stable1', latest: 'new2' };
const one = (valueFrom: unknown) =>
  resolveArgValues([{ name: 'a', valueFrom } as never], rollout, revisions)?.[0]?.value;

describe('args[].valueFrom', () => {
  it("podTemplateHashValue gives the stable and the tested revision's hash", () => {
    expect(one({ podTemplateHashValue: 'Stable' })).toBe('stable1');
    expect(one({ podTemplateHashValue: 'Latest' })).toBe('new2');
    expect(() =>
      resolveArgValues([{ name: 'a', valueFrom: { podTemplateHashValue: 'Stable' } }], rollout, {
        latest: 'x',
      }),
    ).toThrow(/args\[a\]\.valueFrom\.podTemplateHashValue Stable: the Rollout has no stable revision yet/);
  });

  it('fieldRef reads metadata as the downward API writes it, and dotted spec/status paths', () => {
    expect(one({ fieldRef: { fieldPath: 'metadata.name' } })).toBe('web');
    expect(one({ fieldRef: { fieldPath: 'metadata.namespace' } })).toBe('shop');
    expect(one({ fieldRef: { fieldPath: "metadata.labels['env']" } })).toBe('prod');
    expect(one({ fieldRef: { fieldPath: 'metadata.labels["app.kubernetes.io/name"]' } })).toBe('web');
    expect(one({ fieldRef: { fieldPath: "metadata.annotations['region']" } })).toBe('eu-west-1');
    expect(one({ fieldRef: { fieldPath: 'spec.template.metadata.labels.version' } })).toBe('7');
    expect(one({ fieldRef: { fieldPath: 'spec.replicas' } })).toBe('3');
    expect(one({ fieldRef: { fieldPath: 'status.stableRevision' } })).toBe('stable1');
  });

  it('an unknown path, a missing key or a non-scalar is an error naming the arg and the field', () => {
    const cases: [string, RegExp][] = [
      [
        "metadata.labels['nope']",
        /args\[a\]\.valueFrom\.fieldRef\.fieldPath metadata\.labels\['nope'\]: the Rollout has no such label/,
      ],
      ['metadata.generateName', /metadata\.generateName is not supported/],
      ['spec.nothing.here', /spec\.nothing\.here: the Rollout has no such field/],
      ['spec.template', /spec\.template: not a string, number or boolean/],
      ['spec.__proto__.x', /no such field/],
      ['kind', /kind is not supported/],
      ['spec.containers[0]', /is not supported/],
    ];
    for (const [fieldPath, message] of cases) {
      expect(() => one({ fieldRef: { fieldPath } }), fieldPath).toThrow(ArgValueError);
      expect(() => one({ fieldRef: { fieldPath } }), fieldPath).toThrow(message);
    }
  });

  it('the schema refuses value with valueFrom, and valueFrom with both or neither source', () => {
    expect(
      GateArg.safeParse({ name: 'a', value: 'x', valueFrom: { podTemplateHashValue: 'Stable' } }).error
        ?.message,
    ).toMatch(/value and valueFrom are exclusive/);
    expect(GateArg.safeParse({ name: 'a', valueFrom: {} }).error?.message).toMatch(/exactly one of/);
    expect(
      GateArg.safeParse({
        name: 'a',
        valueFrom: { podTemplateHashValue: 'Latest', fieldRef: { fieldPath: 'metadata.name' } },
      }).success,
    ).toBe(false);
    expect(GateArg.safeParse({ name: 'a', valueFrom: { podTemplateHashValue: 'Newest' } }).success).toBe(
      false,
    );
  });

  it('a run records the values read at its creation; an unreadable one is an invalid run naming the field', () => {
    const withArgs = (args: unknown) =>
      ({
        ...rollout,
        spec: {
          ...rollout.spec,
          strategy: {
            canary: {
              stableService: 's',
              canaryService: 'c',
              steps: [],
              analysis: { templates: [{ templateName: 't' }], args },
            },
          },
        },
      }) as unknown as Rollout;
    const templates = new Map([
      [
        templateKey({ templateName: 't' }),
        {
          args: [{ name: 'hash' }, { name: 'env' }],
          metrics: [
            { name: 'm', provider: { prometheus: { query: 'up{h="{{args.hash}}",e="{{args.env}}"}' } } },
          ],
        },
      ],
    ]);
    const start = { gate: 'background' as const, name: 'r1', revision: 'new2' };
    const run = analysisRunFor(
      withArgs([
        { name: 'hash', valueFrom: { podTemplateHashValue: 'Latest' } },
        { name: 'env', valueFrom: { fieldRef: { fieldPath: "metadata.labels['env']" } } },
      ]),
      start,
      templates,
    );
    expect(run.spec.error).toBeUndefined();
    expect(run.spec.args).toEqual([
      { name: 'hash', value: 'new2' },
      { name: 'env', value: 'prod' },
    ]);
    expect(run.spec.metrics[0]?.provider.prometheus?.query).toBe('up{h="new2",e="prod"}');

    const bad = analysisRunFor(
      withArgs([
        { name: 'hash', value: 'x' },
        { name: 'env', valueFrom: { fieldRef: { fieldPath: "metadata.labels['region']" } } },
      ]),
      start,
      templates,
    );
    expect(bad.spec.error).toBe(
      "cannot proceed: args[env].valueFrom.fieldRef.fieldPath metadata.labels['region']: the Rollout has no such label",
    );
    expect(bad.spec.metrics).toEqual([]);
  });
});
