/**
 * The settings table (src/config/defaults.ts) is the one source of keys, variables and defaults:
 * the schema has exactly its keys, and the README's Configuration table and docs/configuration.md
 * list every key with the table's variable and default.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, SETTINGS, formatDefault, loadConfigFromObject, type Setting, type SettingKey } from '../../src/config/index.js';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
const UP = 'http://127.0.0.1:8000';
const rows = Object.entries(SETTINGS) as [SettingKey, Setting][];

/** The `known:` list of the unknown-key problem a config raises. */
function knownKeys(file: Record<string, unknown>): string[] {
  try {
    loadConfigFromObject(file);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const problem = (err as ConfigError).problems.find((p) => p.includes('zz_unknown'));
    const known = /\(known: (.*)\)$/.exec(problem ?? '')?.[1];
    if (known !== undefined) return known.split(', ');
  }
  throw new Error(`no unknown-key problem for ${JSON.stringify(file)}`);
}

describe('the settings table and the schema', () => {
  const sections = [...new Set(rows.map(([k]) => k.split('.')[0]!).filter((s) => !s.startsWith('upstreams')))];

  it.each(sections)('section %s has exactly the keys of the table, in its order', (section) => {
    const tableKeys = rows.map(([k]) => k).filter((k) => k.startsWith(`${section}.`)).map((k) => k.slice(section.length + 1));
    expect(knownKeys({ upstreams: [UP], [section]: { zz_unknown: 1 } })).toEqual(tableKeys);
  });

  it('an upstream entry has url plus the upstreams[] keys of the table', () => {
    const tableKeys = rows.map(([k]) => k).filter((k) => k.startsWith('upstreams[].')).map((k) => k.slice('upstreams[].'.length));
    expect(knownKeys({ upstreams: [{ url: UP, zz_unknown: 1 }] })).toEqual(['url', ...tableKeys]);
  });

  it('the top level is the table sections plus profiles and models', () => {
    const top = knownKeys({ upstreams: [UP], zz_unknown: 1 });
    expect(new Set(top)).toEqual(new Set([...sections, 'upstreams', 'profiles', 'models']));
  });
});

/** The backticked items of a markdown table cell. */
const ticks = (cell: string | undefined) => [...(cell ?? '').matchAll(/`([^`]*)`/g)].map((m) => m[1]!);

interface DocRow {
  keys: string[];
  env: string[];
  defaults: string[];
  line: string;
}

/** Table rows of a markdown text, each with its file keys (prefixed by `keyOf`), variables and defaults. */
function docRows(md: string, keyOf: (heading: string, key: string) => string): DocRow[] {
  const out: DocRow[] = [];
  let heading = '';
  let header: string[] = [];
  for (const line of md.split('\n')) {
    if (line.startsWith('#')) {
      heading = line;
      header = [];
      continue;
    }
    if (!line.startsWith('|')) {
      header = [];
      continue;
    }
    const cells = line.split('|').slice(1, -1).map((c) => c.trim());
    if (header.length === 0) {
      header = cells;
      continue;
    }
    if (cells.every((c) => /^-+$/.test(c))) continue;
    const col = (name: string) => (header.indexOf(name) < 0 ? undefined : cells[header.indexOf(name)]);
    const keyCell = col('file key') ?? col('key');
    if (keyCell === undefined) continue;
    out.push({
      keys: ticks(keyCell).map((k) => keyOf(heading, k)),
      env: ticks(col('variable') ?? col('env')),
      defaults: ticks(col('default')),
      line,
    });
  }
  return out;
}

function checkDocumented(doc: DocRow[], where: string): void {
  for (const [key, setting] of rows) {
    const listing = doc.filter((r) => r.keys.includes(key));
    expect(listing.length, `${where} lists ${key}`).toBeGreaterThan(0);
    for (const row of listing) {
      if (setting.default !== undefined) {
        expect(row.defaults[row.keys.indexOf(key)], `${where}: the default of ${key} in ${row.line}`).toBe(formatDefault(setting.default));
      }
      for (const env of row.env) expect(env, `${where}: the variable of ${key} in ${row.line}`).toBe(setting.env);
    }
    if (setting.env !== undefined) {
      expect(listing.some((r) => r.env.includes(setting.env!)), `${where} names ${setting.env} for ${key}`).toBe(true);
    }
  }
}

describe('the settings table and the docs', () => {
  it("the README's Configuration table lists every key with its variable and default", () => {
    const readme = read('README.md');
    const section = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('### Profiles: models are data'));
    checkDocumented(docRows(section, (_, k) => k), 'README');
  });

  it('docs/configuration.md lists every key with its variable and default', () => {
    const md = read('docs/configuration.md');
    const keyOf = (heading: string, k: string) => {
      const section = /^### `(\w+)`/.exec(heading)?.[1];
      if (section === undefined) return k; // the environment table names full keys
      return section === 'upstreams' ? `upstreams[].${k}` : `${section}.${k}`;
    };
    checkDocumented(docRows(md, keyOf), 'docs/configuration.md');
  });
});
