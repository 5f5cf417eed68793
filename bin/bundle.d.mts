// Types for bin/bundle.mjs, which stays plain JavaScript so `npm run build` needs no loader.
export declare const ENTRIES: Readonly<Record<'sluice' | 'kubectl-sluice', string>>;

export interface BundleOptions {
  entry?: keyof typeof ENTRIES;
  outfile?: string;
  version?: string;
  revision?: string;
}

export declare function bundle(options?: BundleOptions): Promise<{ version: string; revision?: string }>;
