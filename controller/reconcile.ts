// One reconcile of one Rollout: read the world, decide with the pure machines, make the world
// match the decision in a fixed order of idempotent steps, then write status once, only if it
// changed. Modelled on Argo Rollouts' canary.go: one context per pass, steps that may stop early.

import type { V1ReplicaSet } from '@kubernetes/client-node';
import {
  type AnalysisRun,
  CANONICAL_REVISION_REFUSED,
  canonicalRevisionRefused,
  destinationRuleOf,
  PodTemplate,
  ROLE_METADATA_ANNOTATION,
  RoleMetadata,
  type Rollout,
  type RolloutSpec,
  type RolloutStatus,
} from '../crds/index.ts';
import type { Effect } from '../machines/actions.ts';
import { canaryReplicas } from '../machines/canary-scale.ts';
import { type Decision, decide } from '../machines/decide.ts';
import { baselineRevisionOf, type DesiredWorld, desiredWorld, requestRoutesAt } from '../machines/desired.ts';
import type { GateKind, GateObservation, ReleaseEvent, SignalEvent } from '../machines/events.ts';
import { controlledBy, notOwnedMessage, serviceRefusal } from '../machines/ownership.ts';
import { deploymentReplicas } from '../machines/workload-ref.ts';
import { addsCapacity, type ObservedWorld, planWrites, type Write } from '../machines/write-plan.ts';
import { allSettledOrThrow } from './all-settled.ts';
import { type AnalysisDeps, analysisProblem, startAnalysisRun } from './analysis/runs.ts';
import type { EventRecorder } from './kube/events.ts';
import { parseRollout } from './parse-cache.ts';
import { type PodAccess, type RestartOutcome, reconcileRestart } from './restart.ts';
import {
  BASELINE_LABEL,
  REVISION_LABEL,
  REVISION_NUMBER_ANNOTATION,
  revisionOf,
  sameJson,
} from './revision.ts';
import { desiredConditions, mergeConditions, type Problem } from './rollout-conditions.ts';
import { subsetPatch, subsetRevisions } from './traffic/destination-rule.ts';
import { describeRouters, type Router, routersFor } from './traffic/router.ts';
import { splitsFor } from './traffic/split.ts';
import { locate, RoutingError, sameService } from './traffic/virtual-service.ts';
import {
  baselineReplicaSetFor,
  type ResolvedRollout,
  refusedReplicaSet,
  replicaSetFor,
  replicaSetName,
  replicaSetReady,
  roleMetadataPatch,
} from './workload.ts';
import type { World } from './world.ts';
import { StaleWrite, type Writer } from './writer.ts';

export const FINALIZER = 'sluice.dev/traffic';

export interface ReconcileDeps {
  world: World;
  writer: Writer;
  events: EventRecorder;
  now: () => number;
  /** Told of each status write we made, so the next pass need not wait for the informer. */
  statusWritten?: (rollout: Rollout) => void;
  /** Where AnalysisTemplates are read; without it a gate naming a template gets a run that ends in Error. */
  analysis?: AnalysisDeps;
  /** Pods, read and evicted only for a restart (controller/restart.ts); without it none happens. */
  pods?: PodAccess;
}

export interface ReconcileOutcome {
  requeueAfterMs?: number;
  /** The requeue is housekeeping (a scale-down): it may wait behind steps that are owed. */
  requeueIsHousekeeping?: boolean;
  /** Whether status was written: an idle, healthy Rollout must come out false. */
  wroteStatus: boolean;
  problem?: Problem;
  actions: Effect[];
}

type Resolved = ResolvedRollout;

interface Pass {
  rollout: Resolved;
  namespace: string;
  name: string;
  now: number;
  revision: string;
  replicaSets: V1ReplicaSet[];
  /** Only the runs this Rollout controls: a run under one of its names made by anyone else is no verdict. */
  runs: AnalysisRun[];
  /** One per routed object the Rollout names (VirtualService, HTTPRoute…), each checked to exist with its routes. */
  routers: Router[];
}

/** The world holds an object under a name of ours that is not ours: stop, and say which. */
class NotOwned extends Error {
  constructor(readonly problem: Problem) {
    super(problem.message);
  }
}

/**
 * A ReplicaSet under our name but not ours leaves no informer event when it goes away if it
 * carries none of our labels; look again after this long rather than never.
 */
const NOT_OWNED_RECHECK_MS = 30_000;

const SIGNAL_ORDER = ['abort', 'retry', 'pause', 'resume', 'promote'] as const;

/**
 * One pass, step by step; each step may end it. Read top to bottom, this is the whole story:
 * deletion, an unreadable spec, the finalizer, the references, the decision, capacity, traffic
 * and gates, what people are told, and status.
 */
export async function reconcile(deps: ReconcileDeps, raw: Rollout): Promise<ReconcileOutcome> {
  const parsed = parseRollout(raw);
  // Deletion comes first: a Rollout whose spec Sluice cannot read must still be deletable.
  if (raw.metadata?.deletionTimestamp)
    return parsed.ok ? finalize(deps, parsed.value) : dropFinalizer(deps, raw);
  if (!parsed.ok)
    return stall(
      deps,
      raw,
      { reason: 'InvalidSpec', message: `invalid Rollout: ${parsed.message}` },
      deps.now(),
    );
  if (!(parsed.value.metadata.finalizers ?? []).includes(FINALIZER)) return addFinalizer(deps, parsed.value);
  // workloadRef: the pod template is the named Deployment's, read before anything else.
  const resolved = withWorkload(deps.world, parsed.value);
  if ('problem' in resolved) return stall(deps, parsed.value, resolved.problem, deps.now());
  const rollout = resolved.rollout;
  // A workloadRef's template is read only now; a Rollout's own is refused by the schema already.
  if (canonicalRevisionRefused(rollout.spec, rollout.spec.template))
    return stall(
      deps,
      rollout,
      { reason: 'InvalidSpec', message: `invalid Rollout: pod template: ${CANONICAL_REVISION_REFUSED}` },
      deps.now(),
    );

  const pass = readPass(deps, rollout);
  // References are checked before anything is touched: a Rollout pointing at a VirtualService,
  // route or Service that does not exist stalls with a message naming it, and changes nothing.
  const problem = checkReferences(deps.world, pass);
  if (problem) return stall(deps, rollout, problem, pass.now);

  const decided = decideRelease(deps, pass);
  const refused = await addCapacity(deps, pass, decided.writes);
  if (refused) return refused;
  await moveTrafficAndGates(deps, pass, decided);
  await scaleReferencedDeployment(deps, pass, decided.decision.status);
  tellPeople(deps, pass, decided);
  const restart = await reconcileRestart(deps, rollout, pass.replicaSets, pass.now, regarding(rollout));
  return writeStatus(deps, pass, decided, restart);
}

/** What one pass decided: the machine's decision, the world it stands for, the writes to get there. */
interface Decided {
  decision: Decision;
  desired: DesiredWorld;
  observed: ObservedWorld;
  writes: Write[];
}

async function dropFinalizer(deps: ReconcileDeps, raw: Rollout): Promise<ReconcileOutcome> {
  const finalizers = (raw.metadata.finalizers ?? []).filter((f) => f !== FINALIZER);
  if (finalizers.length !== (raw.metadata.finalizers ?? []).length)
    await deps.writer.setFinalizers(raw, finalizers);
  return { wroteStatus: false, actions: [] };
}

async function addFinalizer(deps: ReconcileDeps, rollout: Rollout): Promise<ReconcileOutcome> {
  await deps.writer.setFinalizers(rollout, [...(rollout.metadata.finalizers ?? []), FINALIZER]);
  // The write bumps resourceVersion; the update it causes brings us back with a fresh object.
  return { wroteStatus: false, actions: [] };
}

/**
 * The Rollout with the pod template of the Deployment its workloadRef names. Only a Deployment
 * in the Rollout's namespace that runs this Rollout's pods (its template carries every label of
 * spec.selector.matchLabels) is adopted: naming another team's Deployment takes nothing from it.
 */
function withWorkload(world: World, rollout: Rollout): { rollout: Resolved } | { problem: Problem } {
  const own = rollout.spec.template;
  if (own) return { rollout: { ...rollout, spec: { ...rollout.spec, template: own } } };
  const namespace = rollout.metadata.namespace ?? 'default';
  const name = rollout.spec.workloadRef?.name ?? '';
  const deployment = world.deployment(namespace, name);
  if (!deployment)
    return {
      problem: {
        reason: 'DeploymentNotFound',
        message: `Deployment ${namespace}/${name} (spec.workloadRef.name) not found`,
      },
    };
  const template = PodTemplate.safeParse(deployment.spec?.template);
  if (!template.success)
    return {
      problem: {
        reason: 'InvalidSpec',
        message: `Deployment ${namespace}/${name} (spec.workloadRef) has no usable pod template: ${template.error.issues[0]?.message}`,
      },
    };
  const labels = template.data.metadata?.labels ?? {};
  const missing = Object.entries(rollout.spec.selector.matchLabels ?? {}).filter(([k, v]) => labels[k] !== v);
  if (missing.length > 0 || Object.keys(rollout.spec.selector.matchLabels ?? {}).length === 0)
    return {
      problem: {
        reason: 'DeploymentNotOwned',
        message: `Deployment ${namespace}/${name} (spec.workloadRef.name) does not run this Rollout's pods: its pod template lacks ${missing.map(([k, v]) => `${k}=${v}`).join(', ') || 'a spec.selector.matchLabels'}; Sluice adopts only a Deployment whose pods spec.selector selects`,
      },
    };
  return { rollout: { ...rollout, spec: { ...rollout.spec, template: template.data } } };
}

/** workloadRef's scaleDown: the Deployment gives up its pods as the Rollout's stable takes over. */
async function scaleReferencedDeployment(
  deps: ReconcileDeps,
  pass: Pass,
  status: RolloutStatus,
): Promise<void> {
  const ref = pass.rollout.spec.workloadRef;
  if (!ref || pass.rollout.spec.template === undefined) return;
  const deployment = deps.world.deployment(pass.namespace, ref.name);
  const stable = byRevision(pass).get(status.stableRevision ?? '');
  const wanted = deploymentReplicas(pass.rollout.spec, status, stable?.status?.availableReplicas ?? 0);
  if (!deployment || wanted === undefined || deployment.spec?.replicas === wanted) return;
  await deps.writer.scaleDeployment(pass.namespace, ref.name, wanted);
}

function readPass(deps: ReconcileDeps, rollout: Resolved): Pass {
  const namespace = rollout.metadata.namespace ?? 'default';
  const name = rollout.metadata.name ?? '';
  return {
    rollout,
    namespace,
    name,
    now: deps.now(),
    revision: revisionOf(rollout.spec.template),
    replicaSets: deps.world.replicaSets(namespace, name),
    runs: deps.world.analysisRuns(namespace, name).filter((r) => controlledBy(r, rollout.metadata.uid)),
    routers: [],
  };
}

/** Signals and the observed world into the machine; its decision, the desired world and the plan out. */
function decideRelease(deps: ReconcileDeps, pass: Pass): Decided {
  const status = pass.rollout.status ?? {};
  const foreign = foreignRuns(deps.world, pass, status);
  for (const message of foreign.values()) {
    deps.events.record(regarding(pass.rollout), {
      type: 'Warning',
      reason: 'AnalysisRunNotOwned',
      action: 'Reconcile',
      note: message,
    });
  }
  const events: ReleaseEvent[] = [...signalEvents(status, pass.now), observe(pass, status, foreign)];
  const decision = decide({ name: pass.name, spec: pass.rollout.spec }, status, events);
  const pods = Object.fromEntries(
    [...byRevision(pass)].map(([revision, rs]) => [
      revision,
      { replicas: rs.spec?.replicas ?? 0, available: rs.status?.availableReplicas ?? 0 },
    ]),
  );
  const canaryWeight = routedWeight(deps.world, pass);
  const desired = desiredWorld(pass.rollout.spec, decision.status, pass.now, { pods, canaryWeight });
  // The order of the writes is the plan's (machines/write-plan.ts); this pass carries it out.
  const observed = observedWorld(deps.world, pass, desired, canaryWeight);
  return { decision, desired, observed, writes: planWrites(observed, desired) };
}

/** Capacity first, so traffic finds ready pods; a ReplicaSet that is not ours stalls here. */
async function addCapacity(
  deps: ReconcileDeps,
  pass: Pass,
  writes: Write[],
): Promise<ReconcileOutcome | undefined> {
  try {
    for (const write of writes.filter(addsCapacity)) await carryOut(deps, pass, write);
    return undefined;
  } catch (err) {
    if (err instanceof NotOwned) {
      const stalled = await stall(deps, pass.rollout, err.problem, pass.now);
      return { ...stalled, requeueAfterMs: NOT_OWNED_RECHECK_MS };
    }
    const refused = refusedReplicaSet(err, pass.name);
    if (!refused) throw err;
    return stall(deps, pass.rollout, refused, pass.now);
  }
}

/**
 * The rest of the plan in its order, and the gates' runs started or stopped alongside: neither
 * depends on the other, so a step that starts analysis, or a promotion or abort that stops it,
 * waits for one write fewer.
 */
async function moveTrafficAndGates(deps: ReconcileDeps, pass: Pass, decided: Decided): Promise<void> {
  const moveTraffic = async () => {
    for (const write of decided.writes) if (!addsCapacity(write)) await carryOut(deps, pass, write);
  };
  await allSettledOrThrow([moveTraffic(), runAnalyses(deps, pass, decided.decision.actions)]);
}

/** The decision's Events, and a Warning when this pass put back a weight someone else changed. */
function tellPeople(deps: ReconcileDeps, pass: Pass, decided: Decided): void {
  for (const action of decided.decision.actions) {
    if (action.type === 'emitEvent') {
      deps.events.record(regarding(pass.rollout), {
        type: action.params.type,
        reason: action.params.reason,
        action: 'Reconcile',
        note: action.params.message,
      });
    }
  }
  const drift = driftedWeight(pass, decided.observed, decided.writes, pass.rollout.status ?? {});
  if (drift !== undefined) {
    deps.events.record(regarding(pass.rollout), {
      type: 'Warning',
      reason: 'WeightDriftRestored',
      action: 'SetWeight',
      note: `${describeRouters(pass.routers)} had canary weight ${drift}; restored to ${decided.desired.weight} (something other than Sluice changed it).`,
    });
  }
}

/** Status once, only if it changed, and when to come back. */
async function writeStatus(
  deps: ReconcileDeps,
  pass: Pass,
  decided: Decided,
  restart: RestartOutcome,
): Promise<ReconcileOutcome> {
  const { decision } = decided;
  const next = finishStatus(
    pass.rollout,
    // status.writeBack is the write-back worker's record, and the restart fields the restart's,
    // not the machine's: carried alongside.
    { ...decision.status, signals: undefined, writeBack: pass.rollout.status?.writeBack, ...restart.status },
    pass,
    analysisProblem(pass.runs, decision.status),
  );
  const wroteStatus = await writeIfChanged(deps, pass.rollout, next);
  const wakes = [
    decision.wakeAt === undefined ? undefined : decision.wakeAt - pass.now,
    restart.requeueAfterMs,
  ];
  const soonest = Math.min(...wakes.filter((w): w is number => w !== undefined));
  const requeueAfterMs = Number.isFinite(soonest) ? Math.max(0, soonest) : undefined;
  return {
    requeueAfterMs,
    requeueIsHousekeeping: decision.wakeIsHousekeeping,
    wroteStatus,
    actions: decision.actions,
  };
}

function regarding(rollout: Rollout) {
  return {
    apiVersion: rollout.apiVersion,
    kind: rollout.kind,
    name: rollout.metadata.name ?? '',
    namespace: rollout.metadata.namespace ?? 'default',
    uid: rollout.metadata.uid ?? '',
  };
}

function signalEvents(status: RolloutStatus, now: number): SignalEvent[] {
  const signals = status.signals ?? {};
  const events: SignalEvent[] = [];
  for (const kind of SIGNAL_ORDER) {
    const signal = signals[kind];
    if (!signal) continue;
    if (kind === 'promote') events.push({ type: 'PROMOTE', now, full: signals.promote?.full === true });
    else if (kind === 'abort')
      events.push({ type: 'ABORT', now, reason: `requested by ${signal.by ?? 'a user'}` });
    else events.push({ type: kind.toUpperCase() as 'RETRY' | 'PAUSE' | 'RESUME', now });
  }
  return events;
}

type GateRefSeen = NonNullable<RolloutStatus['analysis']>;

/**
 * The gates whose run name is held by a run this Rollout does not control (created before the
 * gate started, or after ours was deleted), each with the message saying so. The machine sees
 * such a gate as ended in Error, so the release pauses (AnalysisError) instead of reading a
 * verdict someone else wrote; a resume runs the gate again under a new name.
 */
function foreignRuns(world: World, pass: Pass, status: RolloutStatus): Map<GateRefSeen, string> {
  const found = new Map<GateRefSeen, string>();
  const identity = { namespace: pass.namespace, name: pass.name, uid: pass.rollout.metadata.uid };
  for (const ref of [status.backgroundAnalysis, status.analysis]) {
    // A gate already decided was decided on our own run; only a verdict still awaited is at stake.
    if (!ref || (ref.phase !== 'Pending' && ref.phase !== 'Running')) continue;
    const run = world.analysisRun(pass.namespace, ref.name);
    if (run && !controlledBy(run, identity.uid))
      found.set(ref, notOwnedMessage('AnalysisRun', ref.name, run, identity));
  }
  return found;
}

function observe(pass: Pass, status: RolloutStatus, foreign: Map<GateRefSeen, string>): ReleaseEvent {
  const bySelf = (revision: string | undefined) =>
    pass.replicaSets.find((rs) => rs.metadata?.labels?.[REVISION_LABEL] === revision);
  const current = bySelf(pass.revision);
  const spec = pass.rollout.spec;
  const wanted = spec.strategy.blueGreen
    ? (spec.strategy.blueGreen.previewReplicaCount ?? spec.replicas ?? 1)
    : canaryReplicas(spec, {
        stepIndex: status.currentStepIndex ?? 0,
        weight: status.canary?.weight ?? 0,
        promoteFull: status.promoteFull === true,
      });
  // A baseline is the canary's yardstick: the canary counts as ready, and as having the pods
  // a weight needs, only when its baseline does too, so no weight goes to a baseline without pods.
  const stable = status.stableRevision;
  const baseline =
    spec.strategy.canary?.baselineService !== undefined && stable !== undefined && stable !== pass.revision
      ? bySelf(baselineRevisionOf(stable))
      : current;
  const ready = replicaSetReady(current, wanted) && replicaSetReady(baseline, wanted);
  const available = (rs: V1ReplicaSet | undefined) => rs?.status?.availableReplicas ?? 0;
  const gates: Partial<Record<GateKind, GateObservation>> = {};
  for (const [ref, message] of foreign) {
    // The machine matches observations to its gates by name; the key only keeps the two apart.
    gates[ref === status.backgroundAnalysis ? 'background' : 'step'] = {
      name: ref.name,
      phase: 'Error',
      message,
    };
  }
  for (const ref of [status.backgroundAnalysis, status.analysis]) {
    if (ref && foreign.has(ref)) continue;
    const run = ref && pass.runs.find((r) => r.metadata.name === ref.name);
    if (!ref || !run?.status?.phase) continue;
    const seen: GateObservation = { name: ref.name, phase: run.status.phase };
    if (run.status.message !== undefined) seen.message = run.status.message;
    // Whether a gate that ended can measure again is the machine's call; it needs the reason.
    if (run.status.reason !== undefined) seen.reason = run.status.reason;
    if (run.status.sharedIncident !== undefined) seen.sharedIncident = run.status.sharedIncident;
    gates[run.spec.gate] = seen;
  }
  return {
    type: 'OBSERVE',
    now: pass.now,
    revision: pass.revision,
    ready: { canary: ready, preview: ready },
    canaryAvailable: Math.min(available(current), available(baseline)),
    gates,
  };
}

/** The Services a Rollout names, with the field naming each; all live in the Rollout's namespace. */
function namedServices(spec: RolloutSpec): { field: string; name: string }[] {
  const { canary, blueGreen } = spec.strategy;
  return [
    { field: 'spec.strategy.canary.stableService', name: canary?.stableService },
    { field: 'spec.strategy.canary.canaryService', name: canary?.canaryService },
    { field: 'spec.strategy.canary.baselineService', name: canary?.baselineService },
    { field: 'spec.strategy.blueGreen.activeService', name: blueGreen?.activeService },
    { field: 'spec.strategy.blueGreen.previewService', name: blueGreen?.previewService },
  ].filter((s): s is { field: string; name: string } => s.name !== undefined);
}

/** Why Sluice may not write its selector key into this Service (another workload's), if so. */
function refusedService(world: World, rollout: Rollout, namespace: string, field: string, name: string) {
  return serviceRefusal(
    { namespace, name, field, selector: world.service(namespace, name)?.spec?.selector },
    {
      matchLabels: rollout.spec.selector.matchLabels ?? {},
      podLabels: (rollout.spec.template?.metadata?.labels ?? {}) as Record<string, string>,
    },
  );
}

function checkReferences(world: World, pass: Pass): Problem | undefined {
  const { namespace } = pass;
  const spec = pass.rollout.spec;
  for (const { field, name: service } of namedServices(spec)) {
    if (!world.service(namespace, service)) {
      return { reason: 'ServiceNotFound', message: `Service ${namespace}/${service} not found` };
    }
    const refused = refusedService(world, pass.rollout, namespace, field, service);
    if (refused) return { reason: 'ServiceNotOwned', message: refused };
  }
  const routers = routersFor(spec);
  for (const router of routers) {
    const view = router.read(world, namespace);
    if (!view) {
      return {
        reason: `${router.kind}NotFound`,
        message: `${router.kind} ${namespace}/${router.name} (${router.field}) not found`,
      };
    }
    try {
      view.weight();
    } catch (err) {
      if (err instanceof RoutingError) return { reason: 'RouteNotFound', message: err.message };
      throw err;
    }
  }
  pass.routers = routers;
  return checkSubsets(world, pass);
}

/**
 * Subset routing: the DestinationRule is there with both subsets, and it is the rule of the host
 * the routes send the subsets to (another host's subsets would be a route to nowhere).
 */
function checkSubsets(world: World, pass: Pass): Problem | undefined {
  const named = destinationRuleOf(pass.rollout.spec.strategy);
  if (!named) return undefined;
  const { namespace } = pass;
  const dr = world.destinationRule(namespace, named.name);
  if (!dr) {
    return {
      reason: 'DestinationRuleNotFound',
      message: `DestinationRule ${namespace}/${named.name} (spec.strategy.canary.trafficRouting.istio.destinationRule) not found`,
    };
  }
  try {
    subsetRevisions(dr, [named.stableSubsetName, named.canarySubsetName]);
  } catch (err) {
    if (err instanceof RoutingError) return { reason: 'SubsetNotFound', message: err.message };
    throw err;
  }
  for (const split of splitsFor(pass.rollout.spec)) {
    const vs = world.virtualService(namespace, split.virtualService);
    for (const route of vs ? locate(vs, split) : []) {
      for (const d of [route.route[route.stable], route.route[route.canary]]) {
        const host = d?.destination.host ?? '';
        const [ruleService = '', ruleNamespace = namespace] = (dr.spec.host ?? '').split('.');
        if (ruleNamespace !== namespace || !sameService(host, ruleService, namespace)) {
          return {
            reason: 'SubsetHostMismatch',
            message: `VirtualService ${namespace}/${split.virtualService} route '${route.name}' sends subset '${d?.destination.subset}' to host '${host}', but DestinationRule ${namespace}/${dr.metadata.name} is for host '${dr.spec.host ?? ''}'`,
          };
        }
      }
    }
  }
  return undefined;
}

/** The highest canary weight any of the pass's routed objects gives now (undefined: none readable). */
function routedWeight(world: World, pass: Pass): number | undefined {
  const weights = routedViews(world, pass.namespace, pass.routers).map(({ view }) => view.weight());
  return weights.length === 0 || weights.includes(undefined) ? undefined : Math.max(...(weights as number[]));
}

/** Each routed object of the pass as the cache holds it; those missing since the check are left out. */
function routedViews(world: World, namespace: string, routers: Router[]) {
  return routers.flatMap((router) => {
    const view = router.read(world, namespace);
    return view ? [{ router, view }] : [];
  });
}

/** The ReplicaSet of each revision, as the pass found them. */
const byRevision = (pass: Pass) =>
  new Map(pass.replicaSets.map((rs) => [rs.metadata?.labels?.[REVISION_LABEL] ?? '', rs]));

/** What the write plan needs to know of the world as it is. */
function observedWorld(
  world: World,
  pass: Pass,
  desired: DesiredWorld,
  canaryWeight: number | undefined,
): ObservedWorld {
  const replicas: Record<string, number> = {};
  for (const [revision, rs] of byRevision(pass)) replicas[revision] = rs.spec?.replicas ?? 0;
  const services: Record<string, string | undefined> = {};
  for (const service of Object.keys(desired.services))
    services[service] = world.service(pass.namespace, service)?.spec?.selector?.[REVISION_LABEL];
  const numbers: Record<string, number> = {};
  for (const [revision, rs] of byRevision(pass)) {
    const number = Number(rs.metadata?.annotations?.[REVISION_NUMBER_ANNOTATION]);
    if (controlledBy(rs, pass.rollout.metadata.uid) && Number.isFinite(number)) numbers[revision] = number;
  }
  const podMetadata: Record<string, RoleMetadata> = {};
  for (const [revision, rs] of byRevision(pass)) podMetadata[revision] = recordedRoleMetadata(rs);
  const baselines = [...byRevision(pass)].filter(
    ([, rs]) => rs.metadata?.labels?.[BASELINE_LABEL] !== undefined,
  );
  const observed: ObservedWorld = {
    templateRevision: pass.revision,
    replicas,
    services,
    numbers,
    podMetadata,
    baselines: baselines.map(([revision]) => revision),
  };
  const stableService = pass.rollout.spec.strategy.canary?.stableService;
  if (stableService !== undefined) observed.stableService = stableService;
  const named = destinationRuleOf(pass.rollout.spec.strategy);
  const dr = named && world.destinationRule(pass.namespace, named.name);
  if (named && dr) {
    observed.subsets = subsetRevisions(dr, [named.stableSubsetName, named.canarySubsetName]);
    observed.stableSubset = named.stableSubsetName;
  }
  const routed = routedViews(world, pass.namespace, pass.routers);
  const wanted = desired.weight;
  if (routed.length > 0 && wanted !== undefined) {
    // Several routed objects are one route to the plan: its weight the highest any gives the
    // canary (so a fall is seen as one), matched only when every one gives the desired weight.
    observed.route = {
      weight: canaryWeight,
      matchesDesired: routed.every(
        ({ view }) => view.patch(wanted, desired.requestRoutes, desired.baseline?.weight).length === 0,
      ),
    };
  }
  return observed;
}

/** One write of the plan, against the API server. */
async function carryOut(deps: ReconcileDeps, pass: Pass, write: Write): Promise<void> {
  switch (write.type) {
    case 'createReplicaSet': {
      const copied = write.of === undefined ? undefined : byRevision(pass).get(write.of);
      // A baseline whose stable is not there (yet) waits: its template is the stable's.
      if (write.of !== undefined && !copied) return;
      const rs = copied
        ? baselineReplicaSetFor(pass.rollout, copied, write.revision, write.replicas)
        : replicaSetFor(pass.rollout, write.revision, nextRevisionNumber(pass.replicaSets), write.replicas);
      // Already there: our own create the cache has not shown yet, or someone else's object
      // under our name. The second is never scaled or given traffic.
      const existing = await deps.writer.ensureReplicaSet(rs);
      if (existing && !controlledBy(existing, pass.rollout.metadata.uid)) {
        const name = rs.metadata?.name ?? '';
        const identity = { namespace: pass.namespace, name: pass.name, uid: pass.rollout.metadata.uid };
        throw new NotOwned({
          reason: 'ReplicaSetNotOwned',
          message: notOwnedMessage('ReplicaSet', name, existing, identity),
        });
      }
      return;
    }
    case 'scaleReplicaSet': {
      const rs = byRevision(pass).get(write.revision);
      await deps.writer.scaleReplicaSet(pass.namespace, rs?.metadata?.name ?? '', write.to);
      return;
    }
    case 'pointService':
      await deps.writer.pointService(pass.namespace, write.service, write.revision);
      return;
    case 'pointSubsets':
      await pointSubsets(deps, pass.rollout, pass.namespace, write.revisions);
      return;
    case 'setPodMetadata': {
      const name =
        byRevision(pass).get(write.revision)?.metadata?.name ?? replicaSetName(pass.name, write.revision);
      const patch = roleMetadataPatch(write.metadata, write.previous, pass.rollout.spec.template.metadata);
      await deps.writer.setPodMetadata(pass.namespace, name, patch, write.metadata);
      return;
    }
    case 'deleteReplicaSet': {
      const rs = byRevision(pass).get(write.revision);
      if (rs?.metadata?.name && rs.metadata.uid)
        await deps.writer.deleteReplicaSet(pass.namespace, rs.metadata.name, rs.metadata.uid);
      return;
    }
    case 'setWeight': {
      for (const { router, view } of routedViews(deps.world, pass.namespace, pass.routers)) {
        const ops = view.patch(write.weight, write.requestRoutes, write.baseline);
        if (ops.length) await deps.writer.patchRoute(router.kind, pass.namespace, router.name, ops);
      }
      return;
    }
  }
}

/** Points the DestinationRule's subsets at revisions, reading it fresh from the cache. */
async function pointSubsets(
  deps: ReconcileDeps,
  rollout: Rollout,
  namespace: string,
  revisions: Record<string, string>,
): Promise<void> {
  const name = destinationRuleOf(rollout.spec.strategy)?.name;
  const dr = name === undefined ? undefined : deps.world.destinationRule(namespace, name);
  if (!name || !dr) return;
  const ops = subsetPatch(dr, revisions);
  if (ops.length) await deps.writer.patchDestinationRule(namespace, name, ops);
}

/** The role metadata Sluice recorded on a ReplicaSet; anything unreadable counts as none, and is rewritten. */
function recordedRoleMetadata(rs: V1ReplicaSet): RoleMetadata {
  const raw = rs.metadata?.annotations?.[ROLE_METADATA_ANNOTATION];
  if (raw === undefined) return {};
  try {
    const parsed = RoleMetadata.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : {};
  } catch {
    return {};
  }
}

function nextRevisionNumber(replicaSets: V1ReplicaSet[]): number {
  const numbers = replicaSets.map((rs) =>
    Number(rs.metadata?.annotations?.[REVISION_NUMBER_ANNOTATION] ?? 0),
  );
  return Math.max(0, ...numbers.filter(Number.isFinite)) + 1;
}

/**
 * The weight someone other than Sluice had set, when this pass put back the one Sluice had
 * set before (drift repaired), for the Warning that says so.
 */
function driftedWeight(
  pass: Pass,
  observed: ObservedWorld,
  writes: Write[],
  before: RolloutStatus,
): number | undefined {
  const restored = writes.find((w) => w.type === 'setWeight');
  if (!restored || !pass.rollout.spec.strategy.canary) return undefined;
  const found = observed.route?.weight;
  const weSet = before.canary?.weight ?? 0;
  return restored.weight === weSet && found !== weSet ? found : undefined;
}

async function runAnalyses(deps: ReconcileDeps, pass: Pass, actions: Effect[]): Promise<void> {
  for (const action of actions) {
    if (action.type === 'startAnalysis') {
      await startAnalysisRun(
        deps.writer,
        deps.analysis,
        pass.rollout,
        action.params,
        pass.runs,
        (kind, name) => deps.world.gatewayRoute(kind, pass.namespace, name),
      );
    } else if (action.type === 'stopAnalysis') {
      // A run under the gate's name that is not ours was never adopted; it is not ours to end.
      const run = deps.world.analysisRun(pass.namespace, action.params.name);
      if (run && !controlledBy(run, pass.rollout.metadata.uid)) continue;
      await deps.writer.terminateAnalysisRun(pass.namespace, action.params.name);
    }
  }
}

/** Adds what only the controller knows to the machine's status: counts, selector, conditions. */
function finishStatus(
  rollout: Rollout,
  status: RolloutStatus,
  pass: Pass | undefined,
  problem: Problem | undefined,
) {
  const generation = rollout.metadata.generation ?? 0;
  const now = new Date(pass?.now ?? Date.now()).toISOString();
  const replicaSets = pass?.replicaSets ?? [];
  const sum = (pick: (rs: V1ReplicaSet) => number | undefined) =>
    replicaSets.reduce((total, rs) => total + (pick(rs) ?? 0), 0);
  const out: RolloutStatus = {
    ...status,
    observedGeneration: generation,
    replicas: sum((rs) => rs.status?.replicas),
    readyReplicas: sum((rs) => rs.status?.readyReplicas),
    availableReplicas: sum((rs) => rs.status?.availableReplicas),
    updatedReplicas: sum((rs) =>
      rs.metadata?.labels?.[REVISION_LABEL] === pass?.revision ? rs.status?.replicas : 0,
    ),
    selector: selectorString(rollout.spec),
  };
  const stable = replicaSets.find((rs) => rs.metadata?.labels?.[REVISION_LABEL] === out.stableRevision);
  const pods = { available: stable?.status?.availableReplicas ?? 0, wanted: rollout.spec.replicas ?? 1 };
  out.conditions = mergeConditions(
    rollout.status?.conditions,
    desiredConditions(out, problem, pods),
    generation,
    now,
  );
  return prune(out);
}

function selectorString(spec: RolloutSpec): string {
  return Object.entries(spec.selector.matchLabels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

const prune = (status: RolloutStatus): RolloutStatus =>
  Object.fromEntries(Object.entries(status).filter(([, v]) => v !== undefined)) as RolloutStatus;

async function writeIfChanged(deps: ReconcileDeps, rollout: Rollout, next: RolloutStatus): Promise<boolean> {
  if (sameStatus(rollout.status, next)) return false;
  const written = await deps.writer.writeStatus(rollout, next);
  if (written === false)
    throw new StaleWrite(`status of ${rollout.metadata.namespace}/${rollout.metadata.name}`);
  deps.statusWritten?.(written);
  return true;
}

/** Conditions' transition times are kept when nothing flips, so equal status compares equal. */
function sameStatus(a: RolloutStatus | undefined, b: RolloutStatus): boolean {
  return sameJson(a ?? {}, b);
}

async function stall(
  deps: ReconcileDeps,
  rollout: Rollout,
  problem: Problem,
  now: number,
): Promise<ReconcileOutcome> {
  const base = (rollout.status ?? {}) as RolloutStatus;
  const next = finishStatusForProblem(rollout, base, problem, now);
  const wroteStatus = await writeIfChanged(deps, rollout, next);
  if (wroteStatus) {
    deps.events.record(regarding(rollout), {
      type: 'Warning',
      reason: problem.reason,
      action: 'Reconcile',
      note: problem.message,
    });
  }
  return { wroteStatus, problem, actions: [] };
}

function finishStatusForProblem(
  rollout: Rollout,
  status: RolloutStatus,
  problem: Problem,
  now: number,
): RolloutStatus {
  const generation = typeof rollout.metadata?.generation === 'number' ? rollout.metadata.generation : 0;
  const out: RolloutStatus = { ...status, observedGeneration: generation, message: problem.message };
  out.conditions = mergeConditions(
    status.conditions,
    desiredConditions(out, problem),
    generation,
    new Date(now).toISOString(),
  );
  return out;
}

/** Deletion: send every request to the stable (or active) revision, then let the object go. */
async function finalize(deps: ReconcileDeps, parsed: Rollout): Promise<ReconcileOutcome> {
  // The pod labels a Service is checked against: the Deployment's, for a workloadRef still there.
  const resolved = withWorkload(deps.world, parsed);
  const rollout = 'rollout' in resolved ? resolved.rollout : parsed;
  const namespace = rollout.metadata.namespace ?? 'default';
  if (!(rollout.metadata.finalizers ?? []).includes(FINALIZER)) return { wroteStatus: false, actions: [] };
  // Header routes go with the release: none is left sending anyone to a canary.
  const canary = rollout.spec.strategy.canary;
  const headers = canary ? requestRoutesAt(canary, 0, false) : undefined;
  for (const { router, view } of routedViews(deps.world, namespace, routersFor(rollout.spec))) {
    try {
      const ops = view.patch(0, headers);
      if (ops.length) await deps.writer.patchRoute(router.kind, namespace, router.name, ops);
    } catch (err) {
      if (!(err instanceof RoutingError)) throw err; // routes gone: nothing of ours left to undo
    }
  }
  // Every Service and subset goes back to the stable revision, as if the release had been rolled back.
  const stable = rollout.status?.stableRevision;
  if (stable) {
    const settled = desiredWorld(
      rollout.spec,
      { stableRevision: stable, currentRevision: stable },
      Date.now(),
    );
    if (settled.subsets) {
      try {
        await pointSubsets(deps, rollout, namespace, settled.subsets);
      } catch (err) {
        if (!(err instanceof RoutingError)) throw err; // subsets gone: nothing of ours left to undo
      }
    }
    const fields = new Map(namedServices(rollout.spec).map((s) => [s.name, s.field]));
    for (const [service, revision] of Object.entries(settled.services)) {
      if (refusedService(deps.world, rollout, namespace, fields.get(service) ?? 'spec.strategy', service))
        continue;
      const selected = deps.world.service(namespace, service)?.spec?.selector?.[REVISION_LABEL];
      if (selected !== undefined && selected !== revision)
        await deps.writer.pointService(namespace, service, revision);
    }
  }
  await deps.writer.setFinalizers(
    rollout,
    (rollout.metadata.finalizers ?? []).filter((f) => f !== FINALIZER),
  );
  return { wroteStatus: false, actions: [] };
}
