/**
 * A bound on how deeply a request body nests, checked before anything walks the body recursively.
 *
 * Why: JSON.parse (V8) takes any depth, but JSON.stringify throws RangeError ("Maximum call stack
 * size exceeded") a few thousand levels down, and unknown fields are forwarded to vLLM (spec 2),
 * so `{"x": [[[[...]]]]}` 5,000 deep parsed fine and then failed while the upstream request was
 * being serialized, where it looked like an unreachable replica (found by
 * test/integration/fuzz-inputs.test.ts). The OpenAI API does not document a depth limit; real
 * request bodies, JSON-schema `parameters` of tools included, nest a few dozen levels at most.
 */

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
