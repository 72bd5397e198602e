/**
 * A bound on how deeply a request body nests, checked before anything walks the body recursively.
 *
 * Why: JSON.parse (V8) takes any depth, but JSON.stringify throws RangeError ("Maximum call stack
 * size exceeded") a few thousand levels down, and unknown fields are forwarded to vLLM (docs/api.md),
 * so `{"x": [[[[...]]]]}` 5,000 deep parsed fine and then failed while the upstream request was
 * being serialized, where it looked like an unreachable replica (found by
 * test/integration/fuzz-inputs.test.ts). The OpenAI API does not document a depth limit; real
 * request bodies, JSON-schema `parameters` of tools included, nest a few dozen levels at most.
 */

import { InvalidRequestError } from '../errors.js';
import { formatParam } from './request-error.js';

/** Levels of arrays/objects allowed below the body object itself (the body is level 0). */
export const MAX_JSON_DEPTH = 64;

/**
 * The path to the first value nested deeper than `maxDepth`, or null when the whole value fits.
 * Iterative on purpose: a recursive walk would overflow on the very inputs it guards against.
 */
export function findTooDeep(root: unknown, maxDepth = MAX_JSON_DEPTH): PropertyKey[] | null {
  // Each entry links to its parent, so the path is built only for the one value that fails.
  interface Entry {
    value: unknown;
    depth: number;
    key: PropertyKey;
    parent: Entry | null;
  }
  const stack: Entry[] = [{ value: root, depth: 0, key: '', parent: null }];
  while (stack.length > 0) {
    const e = stack.pop()!;
    const { value } = e;
    if (typeof value !== 'object' || value === null) continue;
    if (e.depth > maxDepth) return pathOf(e);
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], depth: e.depth + 1, key: i, parent: e });
    } else {
      for (const [key, child] of Object.entries(value)) stack.push({ value: child, depth: e.depth + 1, key, parent: e });
    }
  }
  return null;
}

function pathOf(e: { key: PropertyKey; parent: { key: PropertyKey; parent: unknown } | null }): PropertyKey[] {
  const path: PropertyKey[] = [];
  for (let cur: typeof e | null = e; cur !== null && cur.parent !== null; cur = cur.parent as typeof e | null) path.push(cur.key);
  return path.reverse();
}

/**
 * Throws a 400 naming the field when `body` nests deeper than MAX_JSON_DEPTH. Run by the app's
 * one JSON body parser, so every route gets it (the relayed /tokenize once answered 500 to a
 * 5,000-deep body: issue 11, item 8).
 */
export function assertShallow(body: unknown): void {
  const tooDeep = findTooDeep(body);
  if (tooDeep === null) return;
  // Name the field the client sent (`x`; `messages[3]`, `tools[0]` for an element object),
  // not 65 levels of path.
  const field = typeof tooDeep[1] === 'number' && typeof tooDeep[2] === 'string' ? tooDeep.slice(0, 2) : tooDeep.slice(0, 1);
  throw new InvalidRequestError(`Invalid value for '${formatParam(field)}': nested more than ${MAX_JSON_DEPTH} levels deep.`, {
    param: formatParam(field),
    code: 'invalid_value',
  });
}
