/**
 * The tracing switch and the standard OpenTelemetry variables it reads (the SDK environment
 * specification, opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/, and
 * the OTLP exporter's, .../protocol/exporter/). They are read here, from the environment given to
 * loadConfig, rather than by the SDK from process.env: one place decides, tests pass their own.
 *
 * Off unless asked for (`tracing.enabled: true`, or an OTLP endpoint variable with the key unset):
 * off, buildApp builds no provider and no exporter, and no request carries a traceparent it did
 * not bring. On, spans go out as OTLP/HTTP protobuf unless OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL
 * says http/json. The exporter itself still reads OTEL_EXPORTER_OTLP_(TRACES_)HEADERS, _TIMEOUT and
 * _COMPRESSION from process.env (@opentelemetry/otlp-exporter-base).
 */
import type { ConfigEnv } from './env.js';
import type { SamplerName, TracingConfig } from './types.js';

export type { OtlpProtocol, SamplerName, TracingConfig } from './types.js';

const SAMPLERS: readonly SamplerName[] = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
];

/** The spec's default OTLP/HTTP endpoint. */
export const DEFAULT_OTLP_ENDPOINT = 'http://localhost:4318';

export function readTracing(env: ConfigEnv, fileEnabled: boolean | undefined, problems: string[]): TracingConfig {
  const get = (name: string): string | undefined => {
    const v = env[name]?.trim();
    return v === undefined || v === '' ? undefined : v;
  };
  const tracesEndpoint = get('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  const baseEndpoint = get('OTEL_EXPORTER_OTLP_ENDPOINT');
  // The signal-specific variable is the URL as it is; the base one gets the signal's path appended.
  const endpoint = tracesEndpoint ?? `${(baseEndpoint ?? DEFAULT_OTLP_ENDPOINT).replace(/\/+$/, '')}/v1/traces`;
  const sdkDisabled = get('OTEL_SDK_DISABLED')?.toLowerCase() === 'true';
  const exporter = get('OTEL_TRACES_EXPORTER')?.toLowerCase();
  const enabled = !sdkDisabled && exporter !== 'none' && (fileEnabled ?? (tracesEndpoint !== undefined || baseEndpoint !== undefined));

  const cfg: TracingConfig = {
    enabled,
    endpoint,
    protocol: 'http/protobuf',
    serviceName: get('OTEL_SERVICE_NAME') ?? 'thinkgate',
    resourceAttributes: Object.freeze(parseKeyValues(get('OTEL_RESOURCE_ATTRIBUTES'))),
    sampler: 'parentbased_always_on',
    samplerRatio: 1,
  };
  if (!enabled) return cfg;

  // Only what this build can do is accepted: a value it would not honour is a startup error, not a silent default.
  if (exporter !== undefined && exporter !== 'otlp') problems.push(`OTEL_TRACES_EXPORTER: must be otlp or none (got ${exporter})`);
  // The signal-specific variable wins over the general one (the exporter spec's precedence).
  const tracesProtocol = get('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL');
  const protocol = tracesProtocol ?? get('OTEL_EXPORTER_OTLP_PROTOCOL');
  if (protocol === 'http/protobuf' || protocol === 'http/json') cfg.protocol = protocol;
  else if (protocol !== undefined) {
    // grpc would need @grpc/grpc-js and HTTP/2 to the collector: not built in, so refused rather than quietly sent as protobuf.
    problems.push(
      `${tracesProtocol !== undefined ? 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL' : 'OTEL_EXPORTER_OTLP_PROTOCOL'}: thinkgate exports OTLP over HTTP (http/protobuf or http/json); ${protocol} is not supported`,
    );
  }
  let url: URL | undefined;
  try {
    url = new URL(endpoint);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    problems.push(`${tracesEndpoint !== undefined ? 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' : 'OTEL_EXPORTER_OTLP_ENDPOINT'}: must be an http:// or https:// URL`);
  }
  const sampler = get('OTEL_TRACES_SAMPLER')?.toLowerCase();
  if (sampler !== undefined) {
    if ((SAMPLERS as readonly string[]).includes(sampler)) cfg.sampler = sampler as SamplerName;
    else problems.push(`OTEL_TRACES_SAMPLER: must be one of ${SAMPLERS.join(', ')}`);
  }
  const arg = get('OTEL_TRACES_SAMPLER_ARG');
  if (arg !== undefined && cfg.sampler.endsWith('traceidratio')) {
    const r = /^(0(\.\d+)?|1(\.0+)?|\.\d+)$/.test(arg) ? Number(arg) : NaN;
    if (r >= 0 && r <= 1) cfg.samplerRatio = r;
    else problems.push('OTEL_TRACES_SAMPLER_ARG: must be a ratio 0-1');
  }
  return cfg;
}

/** `k1=v1,k2=v2` with percent-encoded values (the W3C Baggage octet rules the spec refers to). */
function parseKeyValues(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (text === undefined) return out;
  for (const pair of text.split(',')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    const key = pair.slice(0, eq).trim();
    try {
      out[key] = decodeURIComponent(pair.slice(eq + 1).trim());
    } catch {
      out[key] = pair.slice(eq + 1).trim();
    }
  }
  return out;
}
