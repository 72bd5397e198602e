#!/usr/bin/env node
/**
 * CustomResourceDefinition YAML -> one JSON schema per served version, in the layout that
 * kubeconform's -schema-location template `{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json`
 * expects (the layout of datreeio/CRDs-catalog). Same conversion as kubeconform's
 * scripts/openapi2jsonschema.py in strict mode: every object with `properties` and no
 * `x-kubernetes-preserve-unknown-fields` gets additionalProperties: false, and
 * `x-kubernetes-int-or-string` becomes a string-or-integer.
 *
 * Why: kubeconform downloads CRD schemas from GitHub, which CI cannot reach; the CRDs
 * themselves ship in Go modules (prometheus-operator, KEDA) that .ci/deploy.sh downloads.
 *
 *   node deploy/tools/crd-to-jsonschema.mjs OUT_DIR crd.yaml...
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

function strict(node) {
  if (Array.isArray(node)) return node.map(strict);
  if (node === null || typeof node !== 'object') return node;
  const out = {};
  for (const [k, v] of Object.entries(node)) out[k] = strict(v);
  if (out['x-kubernetes-int-or-string']) {
    delete out.type;
    out.oneOf = [{ type: 'string' }, { type: 'integer' }];
  }
  if (out.properties && !out['x-kubernetes-preserve-unknown-fields'] && out.additionalProperties === undefined) {
    out.additionalProperties = false;
  }
  return out;
}

const [outDir, ...files] = process.argv.slice(2);
if (!outDir || files.length === 0) {
  console.error('usage: crd-to-jsonschema.mjs OUT_DIR crd.yaml...');
  process.exit(2);
}
let written = 0;
for (const file of files) {
  for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
    const crd = doc.toJS();
    if (crd?.kind !== 'CustomResourceDefinition') continue;
    const { group, names, versions } = crd.spec;
    for (const v of versions) {
      const schema = v.schema?.openAPIV3Schema;
      if (!schema) continue;
      const dir = join(outDir, group);
      mkdirSync(dir, { recursive: true });
      const path = join(dir, `${names.kind.toLowerCase()}_${v.name}.json`);
      writeFileSync(path, JSON.stringify(strict(schema), null, 1));
      written++;
      console.log(`  ${path}`);
    }
  }
}
if (written === 0) {
  console.error('no CustomResourceDefinition versions found');
  process.exit(1);
}
