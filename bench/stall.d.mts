/** Types of ./stall.mjs (plain JS so the measured gateway process loads no TypeScript loader). */
export function installStall(env: NodeJS.ProcessEnv): NodeJS.Timeout | null;
