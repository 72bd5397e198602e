// @ts-check
/**
 * The traced gateway's collector in `npm run bench -- --tracing`: an OTLP/HTTP receiver that
 * accepts POST /v1/traces in either encoding, counts the spans and throws them away (200, empty
 * ExportTraceServiceResponse), so the bench charges thinkgate for building and exporting spans
 * and nothing for a real backend. Its own process: its CPU is not the gateway's. Reports its port
 * over IPC; answers `count` with { spans, posts, bytes } and `exit`.
 *
 * Counting protobuf without a decoder: ExportTraceServiceRequest.resource_spans = 1,
 * ResourceSpans.scope_spans = 2, ScopeSpans.spans = 2 (opentelemetry-proto, trace_service.proto
 * and trace.proto); walking those length-delimited fields and counting the innermost is enough.
 */
import { createServer } from 'node:http';
import { gunzipSync } from 'node:zlib';

let spans = 0;
let posts = 0;
let bytes = 0;

/** Varint at `pos`: [value, next position]. Lengths here fit in a double. */
function varint(/** @type {Uint8Array} */ b, /** @type {number} */ pos) {
  let v = 0;
  let mul = 1;
  for (;;) {
    const x = b[pos++];
    if (x === undefined) throw new Error('truncated varint');
    v += (x & 0x7f) * mul;
    if (x < 0x80) return [v, pos];
    mul *= 128;
  }
}

/** Calls `each` with every length-delimited field numbered `field` in `b[start, end)`, skipping the others. */
function fields(/** @type {Uint8Array} */ b, /** @type {number} */ start, /** @type {number} */ end, /** @type {number} */ field, /** @type {(s: number, e: number) => void} */ each) {
  let pos = start;
  while (pos < end) {
    const [key, p1] = varint(b, pos);
    const wire = key % 8;
    pos = p1;
    if (wire === 0) [, pos] = varint(b, pos);
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      const [len, p2] = varint(b, pos);
      if (Math.floor(key / 8) === field) each(p2, p2 + len);
      pos = p2 + len;
    } else throw new Error(`wire type ${wire}`);
  }
}

function countProtobuf(/** @type {Uint8Array} */ b) {
  let n = 0;
  fields(b, 0, b.length, 1, (rs, re) => fields(b, rs, re, 2, (ss, se) => fields(b, ss, se, 2, () => void n++)));
  return n;
}

function countJson(/** @type {Buffer} */ raw) {
  const body = JSON.parse(raw.toString('utf8'));
  let n = 0;
  for (const rs of body.resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) n += (ss.spans ?? []).length;
  return n;
}

const server = createServer((req, res) => {
  const parts = /** @type {Buffer[]} */ ([]);
  req.on('data', (/** @type {Buffer} */ c) => parts.push(c));
  req.on('end', () => {
    let raw = Buffer.concat(parts);
    bytes += raw.length;
    if (req.headers['content-encoding'] === 'gzip') raw = gunzipSync(raw);
    const type = String(req.headers['content-type']).split(';')[0].trim();
    try {
      if (req.url !== '/v1/traces') throw new Error('path');
      if (type === 'application/x-protobuf') spans += countProtobuf(raw);
      else if (type === 'application/json') spans += countJson(raw);
      else throw new Error('type');
    } catch {
      res.writeHead(400).end();
      return;
    }
    posts++;
    res.writeHead(200, { 'content-type': type }).end(type === 'application/json' ? '{}' : undefined);
  });
});

server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no TCP address');
  process.send?.({ type: 'ready', port: addr.port });
});
process.on('message', (/** @type {any} */ m) => {
  if (m.type === 'count') process.send?.({ type: 'count', id: m.id, spans, posts, bytes });
  else if (m.type === 'exit') server.close(() => process.exit(0));
});
process.on('disconnect', () => process.exit(0));
