/**
 * Prints the field table (src/openai/field-table.ts) as the README "Compatibility" rows and as
 * openapi.yaml's `x-thinkgate-fields`, so a change to the table is pasted, not retyped:
 *   scripts/with-node.sh tsx scripts/field-table-docs.ts readme|openapi
 * test/unit/field-table.test.ts fails until both documents match the table.
 */
import { COLUMNS, FIELD_TABLE, type Endpoint } from '../src/openai/field-table.js';

const what = process.argv[2];
if (what === 'readme') {
  const fields = [...new Set([...Object.keys(FIELD_TABLE.chat), ...Object.keys(FIELD_TABLE.completions)])].sort();
  console.log('| field | chat | completions | how |');
  console.log('|---|---|---|---|');
  for (const f of fields) {
    const chat = FIELD_TABLE.chat[f];
    const cmpl = FIELD_TABLE.completions[f];
    const whys = [...new Set([chat, cmpl].filter((r) => r !== undefined).map((r) => r.why))];
    const why = whys.length === 1 ? whys[0]! : `chat: ${chat!.why}; completions: ${cmpl!.why}`;
    console.log(`| \`${f}\` | ${chat?.column ?? '-'} | ${cmpl?.column ?? '-'} | ${why.replaceAll('|', '\\|')} |`);
  }
} else if (what === 'openapi') {
  for (const endpoint of ['chat', 'completions'] as Endpoint[]) {
    console.log(`# ${endpoint}`);
    console.log('      x-thinkgate-fields:');
    for (const c of COLUMNS) {
      const fields = Object.entries(FIELD_TABLE[endpoint]).filter(([, r]) => r.column === c).map(([f]) => f).sort();
      console.log(`        ${c}: [${fields.join(', ')}]`);
    }
  }
} else {
  console.error('usage: field-table-docs.ts readme|openapi');
  process.exit(2);
}
