import { resourcePath } from '../../controller/kube/client.ts';
import { GROUP, VERSION } from '../../crds/common.ts';
import { type Listing, listAnalysisRuns, listRollouts } from '../api.ts';
import type { Listed, OutputFormat } from '../args.ts';
import { CliError } from '../errors.ts';
import { type Io, paintOf } from '../io.ts';
import type { Kube } from '../kube.ts';
import type { AnalysisRun, Rollout } from '../model.ts';
import { formatObject, formatStreamed, listObject, withoutManagedFields } from '../render/output.ts';
import {
  ANALYSIS_RUNS_TABLE,
  columnWidths,
  ROLLOUTS_TABLE,
  renderObjects,
  type TableSpec,
  tableLine,
  withNamespace,
} from '../render/table.ts';
import { aborted, keepWatching, stopOn } from '../watch.ts';

type Listable = Rollout | AnalysisRun;

interface Kind<T extends Listable> {
  list: (kube: Kube, allNamespaces: boolean) => Promise<Listing<T>>;
  table: TableSpec<T>;
}

const KINDS: { [K in Listed]: Kind<Listable> } = {
  rollouts: { list: listRollouts, table: ROLLOUTS_TABLE as TableSpec<Listable> },
  analysisruns: { list: listAnalysisRuns, table: ANALYSIS_RUNS_TABLE as TableSpec<Listable> },
};

export interface ListOptions {
  allNamespaces: boolean;
  watch: boolean;
  output?: OutputFormat;
}

/** `list rollouts|analysisruns [-A] [-w]`: a table as `kubectl get` prints it, then (-w) a row per change. */
export async function runList(kube: Kube, io: Io, what: Listed, opts: ListOptions): Promise<number> {
  const kind = KINDS[what];
  const table = withNamespace(kind.table, opts.allNamespaces);
  const listing = await kind.list(kube, opts.allNamespaces);
  if (opts.output !== undefined) {
    // -w streams each object, the first list's too, as kubectl get -w -o does.
    if (!opts.watch) io.out(formatObject(opts.output, listObject(listing.items, listing.resourceVersion)));
    else for (const o of listing.items) io.out(formatStreamed(opts.output, withoutManagedFields(o)));
  } else if (listing.items.length === 0) {
    // kubectl's wording, on stderr, so scripts reading stdout see an empty table rather than prose.
    io.err(opts.allNamespaces ? 'No resources found' : `No resources found in ${kube.namespace} namespace.`);
    if (!opts.watch) return 0;
  } else {
    io.out(renderObjects(table, listing.items, io.now(), paintOf(io)));
  }
  if (!opts.watch) return 0;
  return watchList(kube, io, what, opts, listing);
}

/** How often the list is read again while watching: a client-node 1.4 watch can go silent without ending. */
const RELIST_MS = 60_000;

const keyOf = (o: Listable) => `${o.metadata.namespace ?? ''}/${o.metadata.name ?? ''}`;

/**
 * After the table, as `kubectl get -w`: a row each time an object is added, changes what its row
 * says (AGE aside), or is deleted, in the table's column widths (with -o, the object). Ends with 0
 * when `io.signal` (or Ctrl-C) fires; a watch or list the server refuses ends it with that error.
 */
async function watchList(
  kube: Kube,
  io: Io,
  what: Listed,
  { allNamespaces, output }: ListOptions,
  first: Listing<Listable>,
): Promise<number> {
  const kind = KINDS[what];
  const table = withNamespace(kind.table, allNamespaces);
  const paint = paintOf(io);
  const now = io.now();
  const widths = columnWidths(
    table.header,
    first.items.map((o) => table.row(o, now, paint)),
  );
  if (first.items.length === 0 && output === undefined) io.out(tableLine(table.header, widths));
  const { stop, release } = stopOn(io.signal);
  let failure: unknown;
  const fail = (err: unknown) => {
    failure ??= err;
    stop.abort();
  };

  /**
   * What was printed of each object last: its row, AGE left out, or with -o its resourceVersion.
   * Printed again only when that changes.
   */
  const shown = new Map<string, string>();
  const said = (object: Listable, row: string[]) =>
    output === undefined ? row.slice(0, -1).join('\t') : (object.metadata.resourceVersion ?? '');
  const show = (object: Listable, deleted = false) => {
    const key = keyOf(object);
    const row = table.row(object, io.now(), paint);
    const saying = said(object, row);
    if (deleted) shown.delete(key);
    else if (shown.get(key) === saying) return;
    else shown.set(key, saying);
    io.out(
      output === undefined ? tableLine(row, widths) : formatStreamed(output, withoutManagedFields(object)),
    );
  };
  for (const o of first.items) shown.set(keyOf(o), said(o, table.row(o, now, paint)));

  let resourceVersion = first.resourceVersion;
  /** A fresh list: rows for what changed while no watch was open, and for what went away. */
  const relist = async () => {
    const listing = await kind.list(kube, allNamespaces);
    const present = new Set(listing.items.map(keyOf));
    for (const key of [...shown.keys()]) if (!present.has(key)) shown.delete(key);
    for (const o of listing.items) show(o);
    resourceVersion = listing.resourceVersion;
  };

  const namespace = allNamespaces ? undefined : kube.namespace;
  try {
    keepWatching(kube, stop.signal, {
      path: resourcePath({ group: GROUP, version: VERSION, plural: what, namespace }),
      query: () => ({ resourceVersion }),
      resource: what,
      namespace,
      onEvent: (type, object) => {
        const o = object as Listable;
        if (o?.metadata === undefined) return;
        if (o.metadata.resourceVersion) resourceVersion = o.metadata.resourceVersion;
        show(o, type === 'DELETED');
      },
      onReopen: relist,
      onFailure: fail,
    });
    const timer = setInterval(() => relist().catch(fail), RELIST_MS);
    await aborted(stop.signal);
    clearInterval(timer);
  } finally {
    stop.abort();
    release();
  }
  if (failure !== undefined) throw failure instanceof CliError ? failure : new CliError(String(failure));
  return 0;
}
