/**
 * The OpenTelemetry SDK side of tracing.ts, loaded only when tracing is on: one app's own
 * TracerProvider, OTLP/HTTP exporter (protobuf or JSON, config/tracing.ts) and batch processor, shut down (flushed)
 * with the app. Nothing is registered globally (no `trace.setGlobalTracerProvider`, no context
 * manager, no global propagator): spans get their parent passed explicitly, so two apps in one
 * process (tests) never see each other's.
 */
import { ROOT_CONTEXT, SpanKind, defaultTextMapGetter, type Attributes } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type Sampler,
  type SpanExporter,
} from '@opentelemetry/sdk-trace';
import type { TracingConfig } from '../config/tracing.js';
import { RequestTrace } from './request-trace.js';
import type { Tracing, TracingOptions } from './types.js';

export async function createOtelTracing(cfg: TracingConfig, opts: TracingOptions): Promise<Tracing> {
  const exporter = await exporterFor(cfg);
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.version': opts.version, ...cfg.resourceAttributes, 'service.name': cfg.serviceName }),
    sampler: samplerOf(cfg),
    spanProcessors: [
      new BatchSpanProcessor({ exporter, ...(opts.scheduledDelayMs !== undefined ? { scheduledDelayMillis: opts.scheduledDelayMs } : {}) }),
    ],
  });
  const tracer = provider.getTracer('thinkgate', opts.version);
  const propagator = new W3CTraceContextPropagator();
  return {
    enabled: true,
    startRequest(headers, info) {
      // An invalid or absent traceparent leaves the root context: the request starts a new trace.
      const parent = propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter);
      const attributes: Attributes = {
        'http.request.method': info.method,
        'http.route': info.route,
        'gen_ai.operation.name': operationOf(info.route),
        'gen_ai.request.model': info.model,
        'thinkgate.stream': info.stream,
        'thinkgate.request_id': info.requestId,
      };
      const span = tracer.startSpan(`${info.method} ${info.route}`, { kind: SpanKind.SERVER, attributes }, parent);
      return new RequestTrace(tracer, propagator, span, info);
    },
    // The last flush may fail (the collector is down or gone first in a rollout): those spans are
    // lost either way, and a failed export must not make the app's close reject and skip the rest
    // of a graceful shutdown. Export errors while serving are already only the SDK's diag log.
    shutdown: () => provider.shutdown().catch(() => {}),
  };
}

/**
 * The official exporter of the configured encoding: @opentelemetry/exporter-trace-otlp-proto
 * (Content-Type application/x-protobuf) or -otlp-http (application/json). Both share
 * otlp-exporter-base (retries, OTEL_EXPORTER_OTLP_*_HEADERS/_TIMEOUT/_COMPRESSION); only the
 * one in use is loaded.
 */
async function exporterFor(cfg: TracingConfig): Promise<SpanExporter> {
  const { OTLPTraceExporter } =
    cfg.protocol === 'http/json' ? await import('@opentelemetry/exporter-trace-otlp-http') : await import('@opentelemetry/exporter-trace-otlp-proto');
  return new OTLPTraceExporter({ url: cfg.endpoint });
}

/** OTEL_TRACES_SAMPLER's names (the SDK environment specification's list). */
function samplerOf(cfg: TracingConfig): Sampler {
  const ratio = new TraceIdRatioBasedSampler(cfg.samplerRatio);
  switch (cfg.sampler) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return ratio;
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: ratio });
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

/**
 * GenAI semantic conventions' gen_ai.operation.name for the client's request
 * (opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-spans/): chat for the chat-shaped APIs.
 */
function operationOf(route: string): string {
  return route === '/v1/completions' ? 'text_completion' : 'chat';
}
