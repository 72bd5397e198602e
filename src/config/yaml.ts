/** The config file's YAML (yaml 2, `merge: true` for `<<:`), read into plain data for schema.ts. */
import { isMap, isScalar, parseDocument } from 'yaml';
import { isPlainObject } from './schema.js';

/**
 * A YAML text -> plain data, with `models` as a Map in the file's key order (a plain object would
 * move integer-like keys first, and the order is the match order).
 */
export function parseYaml(text: string, path: string, problems: string[]): unknown {
  // `merge: true` lets operators share blocks with anchors and `<<:` (kept under `x-` keys).
  const doc = parseDocument(text, { merge: true });
  if (doc.errors.length > 0) {
    for (const err of doc.errors) problems.push(`${path}: YAML error: ${err.message.split('\n')[0]?.replace(/:$/, '')}`);
    return undefined;
  }
  const data: unknown = doc.toJS({ maxAliasCount: 100 });
  const node = isMap(doc.contents) ? doc.contents.get('models', true) : undefined;
  if (isPlainObject(data) && isMap(node) && isPlainObject(data['models'])) {
    const models = data['models'];
    const keys = node.items.map((p) => String(isScalar(p.key) ? p.key.value : p.key));
    if (keys.length === Object.keys(models).length && keys.every((k) => Object.hasOwn(models, k))) {
      data['models'] = new Map(keys.map((k) => [k, models[k]]));
    }
  }
  return data;
}
