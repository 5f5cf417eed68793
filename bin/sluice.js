#!/usr/bin/env node
// Sluice ships TypeScript sources and runs them through tsx, so there is no build step to forget.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/sluice-main.ts');
process.exitCode = await main(process.argv.slice(2));
