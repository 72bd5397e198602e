/**
 * Finds the deploy tools that .ci/deploy.sh installs (helm, promtool, ...): first
 * .cache/deploy/bin, then PATH. Tests that need one skip when it is absent on a developer's
 * machine, and fail when THINKGATE_REQUIRE_DEPLOY_TOOLS=1 (.ci/deploy.sh sets it), so CI can
 * never pass by skipping.
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export function findTool(name: string): string | undefined {
  const dirs = [join(REPO_ROOT, '.cache/deploy/bin'), ...(process.env.PATH ?? '').split(delimiter)];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export const toolsRequired = process.env.THINKGATE_REQUIRE_DEPLOY_TOOLS === '1';

/** true when a test needing `tool` should be skipped (absent and not required). */
export function skipWithout(tool: string | undefined): boolean {
  return tool === undefined && !toolsRequired;
}

export function requireTool(tool: string | undefined, name: string): string {
  if (tool === undefined) throw new Error(`${name} not found: run bash .ci/deploy.sh (installs it under .cache/deploy/bin)`);
  return tool;
}
