import { CLUSTER_DOMAIN } from './types.ts';

/** Istio's reading of a host written in a namespace: short names are relative to it. */
export function qualifyHost(host: string, namespace: string): string {
  const h = host.toLowerCase();
  if (h.endsWith(`.${CLUSTER_DOMAIN}`)) return h;
  const parts = h.split('.');
  if (parts.length === 1) return `${h}.${namespace}.${CLUSTER_DOMAIN}`;
  if (parts.length === 2) return `${h}.${CLUSTER_DOMAIN}`;
  if (parts.length === 3 && parts[2] === 'svc') return `${h}.cluster.local`;
  return h;
}

export function serviceFqdn(name: string, namespace: string): string {
  return `${name}.${namespace}.${CLUSTER_DOMAIN}`;
}

/** The Service behind an in-cluster FQDN, or undefined for hosts outside the cluster. */
export function parseServiceFqdn(fqdn: string): { name: string; namespace: string } | undefined {
  const suffix = `.${CLUSTER_DOMAIN}`;
  if (!fqdn.endsWith(suffix)) return undefined;
  const parts = fqdn.slice(0, -suffix.length).split('.');
  if (parts.length !== 2) return undefined;
  const [name, namespace] = parts as [string, string];
  return { name, namespace };
}
