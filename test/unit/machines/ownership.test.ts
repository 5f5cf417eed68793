import { describe, expect, it } from 'vitest';
import { analysisRunFor } from '../../../controller/analysis/runs.ts';
import { type ResolvedRollout, replicaSetFor } from '../../../controller/workload.ts';
import { controlledBy, notOwnedMessage, serviceRefusal } from '../../../machines/ownership.ts';

const rollout: ResolvedRollout = {
  apiVersion: 'sluice.dev/v1alpha1',
  kind: 'Rollout',
  metadata: { name: 'checkout', namespace: 'shop', uid: 'uid-checkout' },
  spec: {
    replicas: 2,
    selector: { matchLabels: { app: 'checkout' } },
    template: {
      metadata: { labels: { app: 'checkout', tier: 'web' } },
      spec: { containers: [{ name: 'app', image: 'c:1' }] },
    },
    strategy: { canary: { steps: [{ setWeight: 10 }] } },
  },
};

const ref = (over: Record<string, unknown> = {}) => ({
  apiVersion: 'sluice.dev/v1alpha1',
  kind: 'Rollout',
  name: 'checkout',
  uid: 'uid-checkout',
  controller: true,
  ...over,
});
const withRefs = (ownerReferences: unknown) => ({ metadata: { name: 'x', ownerReferences } });

describe('controlledBy: only a controller ownerReference naming the Rollout uid makes an object ours', () => {
  it('accepts what Sluice itself builds: the ReplicaSet and the AnalysisRun of a gate', () => {
    expect(controlledBy(replicaSetFor(rollout, 'abc', 1, 2), 'uid-checkout')).toBe(true);
    const run = analysisRunFor(rollout, {
      gate: 'step',
      name: 'checkout-abc-step-0-a1',
      revision: 'abc',
      stepIndex: 0,
    });
    expect(controlledBy(run, 'uid-checkout')).toBe(true);
  });

  it.each([
    ['no ownerReferences at all', undefined],
    ['an empty list', []],
    ['another uid (a Rollout of the same name, deleted and recreated)', [ref({ uid: 'uid-old' })]],
    ['the right uid but not as controller', [ref({ controller: false })]],
    ['the right uid on another kind', [ref({ kind: 'Deployment', apiVersion: 'apps/v1' })]],
    ['the right uid in another API group', [ref({ apiVersion: 'argoproj.io/v1alpha1' })]],
    [
      'a controller that is someone else, our uid as a mere owner',
      [ref({ controller: false }), ref({ uid: 'other' })],
    ],
    ['garbage instead of a list', 'uid-checkout'],
    ['garbage entries', [null, 7, 'uid-checkout']],
  ])('refuses %s', (_, refs) => {
    expect(controlledBy(withRefs(refs), 'uid-checkout')).toBe(false);
  });

  it('refuses everything when the Rollout has no uid to compare with', () => {
    expect(controlledBy(withRefs([ref({ uid: '' })]), '')).toBe(false);
    expect(controlledBy(withRefs([ref()]), undefined)).toBe(false);
  });
});

describe('notOwnedMessage names the object, its real controller and what Sluice will not do', () => {
  const who = { namespace: 'shop', name: 'checkout', uid: 'uid-checkout' };

  it('for a forged AnalysisRun: not a verdict, and how to get the gate run again', () => {
    const message = notOwnedMessage('AnalysisRun', 'checkout-abc-bg-a1', withRefs(undefined), who);
    expect(message).toBe(
      'AnalysisRun shop/checkout-abc-bg-a1 is not owned by Rollout checkout (uid uid-checkout): it has no ' +
        "controller ownerReference. Its result is not this gate's verdict; delete it, then resume the Rollout to run the gate again",
    );
  });

  it('for a ReplicaSet under our name: never scaled nor given traffic', () => {
    const message = notOwnedMessage(
      'ReplicaSet',
      'checkout-abc',
      withRefs([ref({ kind: 'Deployment', name: 'payments', uid: 'uid-pay' })]),
      who,
    );
    expect(message).toContain('ReplicaSet shop/checkout-abc is not owned by Rollout checkout');
    expect(message).toContain('its controller is Deployment payments (uid uid-pay)');
    expect(message).toContain('does not scale it or send traffic to it');
  });
});

describe('serviceRefusal: Sluice only narrows a Service that already selects this Rollout', () => {
  const pods = {
    matchLabels: rollout.spec.selector.matchLabels ?? {},
    podLabels: { app: 'checkout', tier: 'web' },
  };
  const service = (selector: Record<string, string> | undefined) => ({
    namespace: 'shop',
    name: 'target',
    field: 'spec.strategy.canary.canaryService',
    selector,
  });

  it.each([
    ['the Rollout selector itself', { app: 'checkout' }],
    ['a narrower selector the pods still match', { app: 'checkout', tier: 'web' }],
    ['a selector Sluice already pointed at a revision', { app: 'checkout', 'sluice.dev/revision': 'abc' }],
  ])('accepts %s', (_, selector) => {
    expect(serviceRefusal(service(selector), pods)).toBeUndefined();
  });

  it("refuses another app's Service, naming it, the field and both selectors", () => {
    expect(serviceRefusal(service({ app: 'payments' }), pods)).toBe(
      "Service shop/target (spec.strategy.canary.canaryService): its selector app=payments does not select this Rollout's pods " +
        "(labels app=checkout,tier=web); Sluice will not rewrite the selector of a Service that is not this Rollout's",
    );
  });

  it("refuses a Service wider than the Rollout's selector (it may select other workloads too)", () => {
    const wide = { matchLabels: { app: 'checkout', tier: 'web' }, podLabels: pods.podLabels };
    expect(serviceRefusal(service({ app: 'checkout' }), wide)).toContain(
      "does not include the Rollout's selector app=checkout,tier=web",
    );
  });

  it.each([
    ['no selector (endpoints kept by hand)', undefined],
    ['an empty selector', {}],
    ['only our own key', { 'sluice.dev/revision': 'abc' }],
  ])('refuses a Service with %s', (_, selector) => {
    expect(serviceRefusal(service(selector), pods)).toContain('has no selector of its own');
  });

  it('refuses a selector key the pods carry with another value', () => {
    expect(serviceRefusal(service({ app: 'checkout', tier: 'db' }), pods)).toContain(
      "does not select this Rollout's pods",
    );
  });
});
