export { runBudgetForcing } from './run-budget-forcing.js';
export { resolveProfile, ProfileResolver } from './resolve-profile.js';
export type * from './types.js';
export type * from './backend.js';
