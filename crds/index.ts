export * from './analysis.ts';
export * from './common.ts';
export * from './defaults.ts';
export * from './duration.ts';
export * from './labels.ts';
export * from './rollout.ts';
export * from './spec.ts';
export * from './validate.ts';
