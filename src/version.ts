/** The package version, read once from package.json (one level above src/ and dist/src/). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findOpenApiFile } from './routes/openapi.js';

function readVersion(): string {
  try {
    const root = join(findOpenApiFile(), '..');
    return (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

export const version = readVersion();
