/**
 * An OTLP/HTTP trace receiver on a real loopback socket: what a Collector's otlp receiver does
 * for POST /v1/traces (opentelemetry.io/docs/specs/otlp/#otlphttp), in both encodings:
 * - `application/x-protobuf`: the binary ExportTraceServiceRequest, decoded by protobufjs with the
 *   official opentelemetry-proto definitions (./opentelemetry-proto, vendored at v1.11.0), so the
 *   exporter's hand-written encoder is checked against the protocol, not against itself;
 * - `application/json`: the JSON mapping (.../#json-protobuf-encoding: ids as hex strings, enums
 *   as numbers, int64 as decimal strings or numbers).
 * Each request becomes flat spans; the answer is 200 with an empty ExportTraceServiceResponse in
 * the request's encoding. Any other content type is 415, a body that does not decode is 400.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import protobuf from 'protobufjs';

export type AttrValue = string | number | boolean | AttrValue[] | undefined;

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  /** OTLP SpanKind: 2 server, 3 client. */
  kind: number;
  attributes: Record<string, AttrValue>;
  events: { name: string; attributes: Record<string, AttrValue> }[];
  status: { code: number; message?: string };
  resource: Record<string, AttrValue>;
  startNs: bigint;
  endNs: bigint;
  /** The Content-Type it came in. */
  encoding: string;
}

export interface OtlpReceiver {
  url: string;
  spans: ReceivedSpan[];
  posts: { path: string; headers: IncomingHttpHeaders; status: number }[];
  close(): Promise<void>;
}

/** A decoded request: the JSON mapping as parsed, or protobufjs's toObject (ids as bytes, int64 as strings). */
type Id = string | Uint8Array | undefined;
interface JsonAnyValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
  arrayValue?: { values?: JsonAnyValue[] };
}
interface JsonKeyValue {
  key: string;
  value: JsonAnyValue;
}

function valueOf(v: JsonAnyValue): AttrValue {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.arrayValue !== undefined) return (v.arrayValue.values ?? []).map(valueOf);
  return undefined;
}

/** A span or trace id: hex in JSON, bytes in protobuf; absent or empty is ''. */
function hexOf(id: Id): string {
  if (id === undefined) return '';
  return typeof id === 'string' ? id : Buffer.from(id).toString('hex');
}

const PROTO_ROOT = join(dirname(fileURLToPath(import.meta.url)), 'opentelemetry-proto');
let requestType: protobuf.Type | undefined;
/** opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest, loaded once from the .proto files. */
export function exportRequestType(): protobuf.Type {
  if (requestType === undefined) {
    const root = new protobuf.Root();
    // The files import each other by their path under the proto root, as protoc's -I would.
    root.resolvePath = (_origin, target) => join(PROTO_ROOT, target);
    root.loadSync('opentelemetry/proto/collector/trace/v1/trace_service.proto');
    requestType = root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');
  }
  return requestType;
}

interface DecodedRequest {
  resourceSpans?: { resource?: { attributes?: JsonKeyValue[] }; scopeSpans?: { spans?: Record<string, unknown>[] }[] }[];
}

function decode(contentType: string, raw: Buffer): DecodedRequest {
  if (contentType === 'application/x-protobuf') {
    const t = exportRequestType();
    // int64/fixed64 (times, intValue) as decimal strings; enums as numbers; bytes (ids) left as bytes.
    return t.toObject(t.decode(raw), { longs: String, enums: Number }) as DecodedRequest;
  }
  return JSON.parse(raw.toString('utf8')) as DecodedRequest;
}

function attrs(list: JsonKeyValue[] | undefined): Record<string, AttrValue> {
  return Object.fromEntries((list ?? []).map((kv) => [kv.key, valueOf(kv.value)]));
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const posts: OtlpReceiver['posts'] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const answer = (status: number, type?: string, body?: string | Uint8Array): void => {
        posts.push({ path: req.url ?? '', headers: req.headers, status });
        res.writeHead(status, type !== undefined ? { 'content-type': type } : {}).end(body);
      };
      let raw = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') raw = gunzipSync(raw);
      const contentType = String(req.headers['content-type']).split(';')[0]!.trim();
      if (req.url !== '/v1/traces' || (contentType !== 'application/json' && contentType !== 'application/x-protobuf')) {
        answer(415);
        return;
      }
      let body: DecodedRequest;
      try {
        body = decode(contentType, raw);
      } catch {
        answer(400);
        return;
      }
      for (const rs of body.resourceSpans ?? []) {
        const resource = attrs(rs.resource?.attributes);
        for (const ss of rs.scopeSpans ?? []) {
          for (const s of ss.spans ?? []) {
            spans.push({
              traceId: hexOf(s['traceId'] as Id),
              spanId: hexOf(s['spanId'] as Id),
              parentSpanId: hexOf(s['parentSpanId'] as Id),
              name: s['name'] as string,
              kind: s['kind'] as number,
              attributes: attrs(s['attributes'] as JsonKeyValue[]),
              events: ((s['events'] as { name: string; attributes?: JsonKeyValue[] }[] | undefined) ?? []).map((e) => ({
                name: e.name,
                attributes: attrs(e.attributes),
              })),
              status: (s['status'] as { code?: number; message?: string } | undefined)?.code !== undefined ? (s['status'] as { code: number }) : { code: 0 },
              resource,
              startNs: BigInt(s['startTimeUnixNano'] as string),
              endNs: BigInt(s['endTimeUnixNano'] as string),
              encoding: contentType,
            });
          }
        }
      }
      // An empty ExportTraceServiceResponse: zero bytes in protobuf, {} in JSON.
      if (contentType === 'application/x-protobuf') answer(200, contentType, new Uint8Array(0));
      else answer(200, contentType, '{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    posts,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
