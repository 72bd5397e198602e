/** The tracing switch and the OTEL_* variables it reads (src/config/tracing.ts): hostile values are startup errors. */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfigFromObject } from '../../src/config/index.js';

const file = { upstreams: [{ url: 'http://vllm:8000' }] };
const tracing = (env: Record<string, string>, extra: Record<string, unknown> = {}) => loadConfigFromObject({ ...file, ...extra }, env).tracing;
const problems = (env: Record<string, string>, extra: Record<string, unknown> = {}): readonly string[] => {
  try {
    loadConfigFromObject({ ...file, ...extra }, env);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
};

describe('tracing configuration', () => {
  it('is off by default, with the spec defaults ready', () => {
    expect(tracing({})).toEqual({
      enabled: false,
      endpoint: 'http://localhost:4318/v1/traces',
      protocol: 'http/protobuf',
      serviceName: 'thinkgate',
      resourceAttributes: {},
      sampler: 'parentbased_always_on',
      samplerRatio: 1,
    });
  });

  it('an endpoint variable turns it on: the base one gets /v1/traces, the traces one is used as is', () => {
    expect(tracing({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' })).toMatchObject({ enabled: true, endpoint: 'http://collector:4318/v1/traces' });
    expect(tracing({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://b/otlp/traces' })).toMatchObject({
      enabled: true,
      endpoint: 'https://b/otlp/traces',
    });
    // A blank variable is unset (a compose file's `OTEL_EXPORTER_OTLP_ENDPOINT=`).
    expect(tracing({ OTEL_EXPORTER_OTLP_ENDPOINT: '  ' }).enabled).toBe(false);
  });

  it('tracing.enabled: true turns it on at the default endpoint; false, OTEL_SDK_DISABLED and OTEL_TRACES_EXPORTER=none turn it off', () => {
    expect(tracing({}, { tracing: { enabled: true } })).toMatchObject({ enabled: true, endpoint: 'http://localhost:4318/v1/traces' });
    expect(tracing({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }, { tracing: { enabled: false } }).enabled).toBe(false);
    expect(tracing({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'TRUE' }).enabled).toBe(false);
    expect(tracing({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'none' }).enabled).toBe(false);
  });

  it('the protocol: http/protobuf unless asked for http/json; the traces variable wins over the general one', () => {
    const on = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' };
    expect(tracing(on).protocol).toBe('http/protobuf');
    expect(tracing({ ...on, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }).protocol).toBe('http/json');
    expect(tracing({ ...on, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf' }).protocol).toBe('http/protobuf');
    expect(tracing({ ...on, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: ' http/json ' }).protocol).toBe('http/json');
    // A blank variable is unset: the general one (or the default) applies.
    expect(tracing({ ...on, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: '' }).protocol).toBe('http/json');
  });

  it('service name, resource attributes and samplers come from their variables', () => {
    expect(
      tracing({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318',
        OTEL_SERVICE_NAME: 'gw-eu',
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=prod,team=ml%20ops,broken',
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
        OTEL_TRACES_SAMPLER_ARG: '0.25',
      }),
    ).toMatchObject({
      serviceName: 'gw-eu',
      resourceAttributes: { 'deployment.environment': 'prod', team: 'ml ops' },
      sampler: 'parentbased_traceidratio',
      samplerRatio: 0.25,
    });
  });

  it('refuses what it would not honour, naming the variable', () => {
    const on = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' };
    expect(problems({ ...on, OTEL_TRACES_SAMPLER: 'sometimes' })).toEqual([expect.stringMatching(/^OTEL_TRACES_SAMPLER: must be one of/)]);
    expect(problems({ ...on, OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '1.5' })).toEqual(['OTEL_TRACES_SAMPLER_ARG: must be a ratio 0-1']);
    expect(problems({ ...on, OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '1e-1' })).toEqual(['OTEL_TRACES_SAMPLER_ARG: must be a ratio 0-1']);
    expect(problems({ ...on, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toEqual([
      'OTEL_EXPORTER_OTLP_PROTOCOL: thinkgate exports OTLP over HTTP (http/protobuf or http/json); grpc is not supported',
    ]);
    // The traces variable is named when it is the one at fault, even over a valid general one.
    expect(problems({ ...on, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'grpc' })).toEqual([
      expect.stringMatching(/^OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: .*grpc is not supported/),
    ]);
    // Values are case-sensitive in the spec: HTTP/JSON and http/proto are not the protocol names.
    expect(problems({ ...on, OTEL_EXPORTER_OTLP_PROTOCOL: 'HTTP/JSON' })).toEqual([expect.stringMatching(/HTTP\/JSON is not supported/)]);
    expect(problems({ ...on, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/proto' })).toEqual([expect.stringMatching(/http\/proto is not supported/)]);
    expect(problems({ ...on, OTEL_TRACES_EXPORTER: 'zipkin' })).toEqual(['OTEL_TRACES_EXPORTER: must be otlp or none (got zipkin)']);
    expect(problems({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toEqual(['OTEL_EXPORTER_OTLP_ENDPOINT: must be an http:// or https:// URL']);
    expect(problems({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'file:///etc/passwd' })).toEqual(['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: must be an http:// or https:// URL']);
    expect(problems({}, { tracing: { enabled: 'yes' } })).toEqual([expect.stringMatching(/^tracing\.enabled: must be true or false/)]);
    expect(problems({}, { tracing: { endpoint: 'http://c' } })).toEqual(['tracing.endpoint: unknown key (known: enabled)']);
    // Off, the OTEL variables are not this gateway's business: a bad sampler meant for another process is no error.
    expect(problems({ OTEL_TRACES_SAMPLER: 'sometimes' })).toEqual([]);
  });
});
