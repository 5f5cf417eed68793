import type { AnalysisRun, Detectability } from '../crds/analysis.ts';
import type { Rollout } from '../crds/rollout.ts';

export type { AnalysisRun, Rollout };

/** Labels and annotation the controller puts on each revision's ReplicaSet. */
import { REVISION_LABEL, REVISION_NUMBER_ANNOTATION, ROLLOUT_LABEL } from '../crds/labels.ts';

export { REVISION_LABEL, REVISION_NUMBER_ANNOTATION, ROLLOUT_LABEL };

/** A ReplicaSet as the API sends it (wire JSON), reduced to what the plugin reads. */
export interface RawReplicaSet {
  metadata: {
    name: string;
    uid?: string;
    creationTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec?: {
    replicas?: number;
    template?: {
      metadata?: {
        labels?: Record<string, string>;
        annotations?: Record<string, string>;
        [k: string]: unknown;
      };
      spec?: { containers?: { name: string; image?: string }[]; [k: string]: unknown };
      [k: string]: unknown;
    };
  };
  status?: { replicas?: number; readyReplicas?: number; availableReplicas?: number };
}

/** One revision of a Rollout: its ReplicaSet and what that runs. */
export interface RevisionView {
  name: string;
  uid?: string;
  /** The `sluice.dev/revision-number` annotation: 1, 2, 3… in creation order. */
  number?: number;
  /** The pod-template hash (`sluice.dev/revision` label), what status.currentRevision names. */
  hash?: string;
  desired: number;
  ready: number;
  images: string[];
  createdAt?: string;
}

export interface PodView {
  name: string;
  ownerUid?: string;
  hash?: string;
  phase: string;
  ready: boolean;
  /** `1/2`: ready containers over all containers. */
  containers: string;
  restarts: number;
  terminating: boolean;
}

export interface EventView {
  type: string;
  reason: string;
  note: string;
  /** ISO time of the latest occurrence. */
  time?: string;
  count: number;
}

/** Everything `status` shows, gathered once per render so the renderer stays a pure function. */
export interface StatusView {
  rollout: Rollout;
  revisions: RevisionView[];
  pods: PodView[];
  events: EventView[];
  /** What each compareToStable gate in status can see, by run name (absent: not readable or not said). */
  detectability?: Record<string, Detectability>;
}

export function revisionView(rs: RawReplicaSet): RevisionView {
  const raw = rs.metadata.annotations?.[REVISION_NUMBER_ANNOTATION];
  const number = raw !== undefined && /^[0-9]+$/.test(raw) ? Number(raw) : undefined;
  return {
    name: rs.metadata.name,
    uid: rs.metadata.uid,
    number,
    hash: rs.metadata.labels?.[REVISION_LABEL],
    desired: rs.spec?.replicas ?? 0,
    ready: rs.status?.readyReplicas ?? 0,
    images: (rs.spec?.template?.spec?.containers ?? []).map((c) => c.image ?? '?'),
    createdAt: rs.metadata.creationTimestamp,
  };
}

/** Newest revision first, by revision number (creation time when numbers are missing). */
export function byRevisionDescending(a: RevisionView, b: RevisionView): number {
  if (a.number !== undefined && b.number !== undefined) return b.number - a.number;
  return (b.createdAt ?? '').localeCompare(a.createdAt ?? '');
}
