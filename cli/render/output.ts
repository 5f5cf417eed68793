// `-o json|yaml`: the object a command prints, for scripts. kubectl's habits: a list is a `List`
// with `items`, `-w` prints each object on its own as it changes (YAML documents start with
// `---`), and managedFields are left out (kubectl's --show-managed-fields=false).
import { stringify } from 'yaml';
import type { OutputFormat } from '../args.ts';

export function formatObject(format: OutputFormat, object: unknown): string {
  return format === 'json' ? JSON.stringify(object, null, 2) : stringify(object).trimEnd();
}

/** One object of a stream (`-w`): YAML documents are separated, JSON objects follow one another. */
export function formatStreamed(format: OutputFormat, object: unknown): string {
  return format === 'yaml' ? `---\n${formatObject(format, object)}` : formatObject(format, object);
}

/** A Kubernetes object without metadata.managedFields, which only the API server's bookkeeping reads. */
export function withoutManagedFields<T>(object: T): T {
  const metadata = (object as { metadata?: { managedFields?: unknown } }).metadata;
  if (metadata?.managedFields === undefined) return object;
  const { managedFields: _, ...rest } = metadata;
  return { ...object, metadata: rest };
}

/** `kubectl get -o json` of several objects. */
export function listObject(items: unknown[], resourceVersion?: string): object {
  return {
    apiVersion: 'v1',
    kind: 'List',
    metadata: { resourceVersion: resourceVersion ?? '' },
    items: items.map(withoutManagedFields),
  };
}
