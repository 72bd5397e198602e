/**
 * Prometheus metrics of thinkgate (docs/metrics.md). Names are a contract: prefix `thinkgate_`,
 * base units in the name (seconds, tokens), `_total` on counters (Prometheus naming guide,
 * https://prometheus.io/docs/practices/naming/).
 *
 * Labels are bounded: never a user, key or request id. `model` values are only model ids an
 * upstream serves (its GET /v1/models lists them, serve-runs.ts checks); any other name a client
 * sends counts under "unknown", so junk names neither add series nor use up the cap (issue 11,
 * item 6: 99 unknown 1 KB names used to push a real model into "other"). Past `maxModelLabels`
 * distinct served ids the rest fold into "other" (an upstream listing thousands of aliases).
 * `upstream` values are Backend.name (a configured base URL), `code` an HTTP status.
 *
 * Everything registers on the registry it is given, never prom-client's global one, so two
 * apps in one process (tests) never share a series.
 */
import { Counter, Gauge, Histogram, collectDefaultMetrics } from 'prom-client';
import type { Registry } from 'prom-client';
import {
  TOKEN_BUCKETS,
  SEGMENT_BUCKETS,
  SECONDS_BUCKETS,
  VLLM_TTFT_BUCKETS,
  VLLM_E2E_BUCKETS,
  DEFAULT_MAX_MODEL_LABELS,
  OTHER_MODEL,
  UNKNOWN_MODEL,
  SEGMENT_CAUSES,
  type IncChild,
  type ModelSeries,
  type UpstreamSeries,
  type Metrics,
  type BuildInfo,
  type MetricsOptions,
} from './types.js';
import type { SegmentCause } from '../engine/types.js';

// The shapes and constants live in types.ts; importers of this module keep finding them here.
export * from './types.js';

export function createMetrics(registry: Registry, build: BuildInfo, opts: MetricsOptions = {}): Metrics {
  const registers = [registry];
  const maxModelLabels = opts.maxModelLabels ?? DEFAULT_MAX_MODEL_LABELS;

  const counter = <L extends string>(name: string, help: string, labelNames: L[]) =>
    new Counter<L>({ name, help, labelNames, registers });
  const histogram = <L extends string>(name: string, help: string, labelNames: L[], buckets: readonly number[]) =>
    new Histogram<L>({ name, help, labelNames, buckets: [...buckets], registers });

  // `route`: the API the client spoke (/v1/chat/completions, /v1/completions, /v1/messages, ...),
  // a registered route URL, so bounded.
  const requests = counter('thinkgate_requests_total', 'Budget-forced requests (chat, completions, messages, responses) by route and final HTTP status.', [
    'model',
    'stream',
    'code',
    'route',
  ]);
  const thinkingTokens = histogram(
    'thinkgate_request_thinking_tokens',
    'Thinking span per completed generation (each choice of a request: n > 1 and prompt batches count each), in backend tokens (inserted phrases included).',
    ['model'],
    TOKEN_BUCKETS,
  );
  const answerTokens = histogram(
    'thinkgate_request_answer_tokens',
    'Answer tokens per completed generation (each choice of a request).',
    ['model'],
    TOKEN_BUCKETS,
  );
  const extensions = counter(
    'thinkgate_thinking_extensions_total',
    'Extension phrases appended because thinking closed below min_thinking_tokens (s1 section 3.1).',
    ['model'],
  );
  const truncations = counter(
    'thinkgate_thinking_truncations_total',
    'Generations (choices) whose thinking was closed by thinkgate at max_thinking_tokens.',
    ['model'],
  );
  const segments = histogram(
    'thinkgate_request_segments',
    'Upstream completion segments per completed generation (each choice of a request).',
    ['model'],
    SEGMENT_BUCKETS,
  );
  const segmentsByCause = counter('thinkgate_segments_total', 'Upstream completion segments started, by cause.', [
    'model',
    'cause',
  ]);
  const ttft = histogram(
    'thinkgate_time_to_first_token_seconds',
    'From request arrival to the first reasoning or answer token.',
    ['model'],
    VLLM_TTFT_BUCKETS,
  );
  const ttfat = histogram(
    'thinkgate_time_to_first_answer_token_seconds',
    'From request arrival to the first answer (content) token.',
    ['model'],
    VLLM_TTFT_BUCKETS,
  );
  const duration = histogram(
    'thinkgate_request_duration_seconds',
    'From request arrival to the end of the response.',
    ['model', 'stream'],
    VLLM_E2E_BUCKETS,
  );
  const outcomes = counter('thinkgate_budget_outcomes_total', 'Completed generations (choices) by how thinking ended: natural, extended (min), truncated (max).', [
    'model',
    'outcome',
  ]);
  const probes = counter('thinkgate_early_exit_probes_total', 'Early-exit probes run (side calls asking the answer so far; thinking_early_exit).', ['model']);
  const probeTokens = counter('thinkgate_early_exit_probe_tokens_total', 'Tokens early-exit probes generated (in no other token count).', ['model']);
  const exits = counter('thinkgate_early_exits_total', 'Generations (choices) whose probes agreed and closed thinking early.', ['model']);
  const requestedMax = histogram('thinkgate_requested_max_thinking_tokens', 'The max thinking budget (M) of requests that set one.', ['model'], TOKEN_BUCKETS);
  const requestedMin = histogram('thinkgate_requested_min_thinking_tokens', 'The min thinking budget (m) of requests that set one.', ['model'], TOKEN_BUCKETS);
  const thinkingDuration = histogram(
    'thinkgate_thinking_duration_seconds',
    'From the first thinking token to the first answer token (or the end).',
    ['model'],
    VLLM_E2E_BUCKETS,
  );
  const upstreamTtft = histogram(
    'thinkgate_upstream_time_to_first_token_seconds',
    'Per segment: from sending it upstream to its first token.',
    ['upstream'],
    VLLM_TTFT_BUCKETS,
  );
  const upstreamSegment = histogram(
    'thinkgate_upstream_segment_duration_seconds',
    'Per segment: from sending it upstream to its end.',
    ['upstream'],
    VLLM_E2E_BUCKETS,
  );
  const aborts = counter('thinkgate_request_aborts_total', 'Requests that ended before their answer, by reason.', ['reason']);
  const promptTokens = counter(
    'thinkgate_upstream_prompt_tokens_total',
    'Prompt tokens of upstream segments, as their usage reports them (continuations resend the prefix).',
    ['model'],
  );
  const cachedPromptTokens = counter(
    'thinkgate_upstream_cached_prompt_tokens_total',
    "Prompt tokens the upstream served from its prefix cache, where it reports them (vLLM's prompt_tokens_details.cached_tokens).",
    ['model'],
  );
  const inflight = new Gauge({
    name: 'thinkgate_inflight_requests',
    help: 'Chat completion requests in progress.',
    registers,
  });
  const upstreamRequests = counter('thinkgate_upstream_requests_total', 'Requests to upstreams, by outcome.', [
    'upstream',
    'outcome',
  ]);
  const relayed = counter(
    'thinkgate_relayed_requests_total',
    'Requests relayed to an upstream unchanged (not budget forced): /v1/completions scoring requests and the tokenizer routes.',
    ['route', 'reason', 'code'],
  );
  const upstreamHealthy = new Gauge({
    name: 'thinkgate_upstream_healthy',
    help: '1 when the last health check of the upstream passed, else 0.',
    labelNames: ['upstream'],
    registers,
  });
  const retries = counter('thinkgate_upstream_retries_total', 'Failed request starts retried on another replica (before the first byte).', [
    'upstream',
  ]);
  const chatFirst = counter(
    'thinkgate_chat_first_segments_total',
    "Chat first segments (routing.first_segment: chat) by outcome: used, unused (the engine asked for another first segment), refused (failed before its prompt ids).",
    ['upstream', 'outcome'],
  );
  const queueDepth = new Gauge({ name: 'thinkgate_queue_depth', help: 'Requests waiting for a free slot.', registers });
  const queueWait = new Histogram({
    name: 'thinkgate_queue_wait_seconds',
    help: 'Time admitted requests waited for a free slot.',
    buckets: [...SECONDS_BUCKETS],
    registers,
  });
  const disconnects = counter('thinkgate_client_disconnects_total', 'Clients that went away before the end.', [
    'phase',
  ]);
  const buildInfo = new Gauge({
    name: 'thinkgate_build_info',
    help: 'Always 1; the labels say which build runs.',
    labelNames: ['version', 'commit', 'node'],
    registers,
  });
  buildInfo.set({ version: build.version, commit: build.commit ?? 'unknown', node: build.node ?? process.versions.node }, 1);

  if (opts.processMetrics) collectDefaultMetrics({ register: registry, prefix: 'thinkgate_' });

  const bind = (label: string): ModelSeries => {
    const causeChildren = {} as Record<SegmentCause, IncChild>;
    for (const cause of SEGMENT_CAUSES) causeChildren[cause] = segmentsByCause.labels(label, cause);
    const series: ModelSeries = {
      label,
      thinkingTokens: thinkingTokens.labels(label),
      answerTokens: answerTokens.labels(label),
      segments: segments.labels(label),
      extensions: extensions.labels(label),
      truncations: truncations.labels(label),
      segmentsByCause: causeChildren,
      timeToFirstToken: ttft.labels(label),
      timeToFirstAnswerToken: ttfat.labels(label),
      durationStream: duration.labels(label, 'true'),
      durationNonStream: duration.labels(label, 'false'),
      upstreamPromptTokens: promptTokens.labels(label),
      upstreamCachedPromptTokens: cachedPromptTokens.labels(label),
      outcomes: {
        natural: outcomes.labels(label, 'natural'),
        extended: outcomes.labels(label, 'extended'),
        truncated: outcomes.labels(label, 'truncated'),
      },
      earlyExitProbes: probes.labels(label),
      earlyExitProbeTokens: probeTokens.labels(label),
      earlyExits: exits.labels(label),
      requestedMax: requestedMax.labels(label),
      requestedMin: requestedMin.labels(label),
      thinkingDuration: thinkingDuration.labels(label),
    };
    // Counters exist at 0 from the model's first request on, so rate() and ratios over
    // them are defined before the first extension or truncation happens.
    series.extensions.inc(0);
    series.truncations.inc(0);
    return series;
  };

  const byModel = new Map<string, ModelSeries>();
  let other: ModelSeries | undefined;
  let unknown: ModelSeries | undefined;
  const forModel = (model: string | null): ModelSeries => {
    if (model === null || model === UNKNOWN_MODEL) return (unknown ??= bind(UNKNOWN_MODEL));
    const known = byModel.get(model);
    if (known) return known;
    if (byModel.size >= maxModelLabels || model === OTHER_MODEL) return (other ??= bind(OTHER_MODEL));
    const series = bind(model);
    byModel.set(model, series);
    return series;
  };

  const byUpstream = new Map<string, UpstreamSeries>();
  const forUpstream = (upstream: string): UpstreamSeries => {
    let series = byUpstream.get(upstream);
    if (!series) {
      series = { timeToFirstToken: upstreamTtft.labels(upstream), segmentDuration: upstreamSegment.labels(upstream) };
      byUpstream.set(upstream, series);
    }
    return series;
  };

  return {
    registry,
    inflight,
    forModel,
    hasModel: (model) => byModel.has(model),
    forUpstream,
    requestAborted(reason) {
      aborts.inc({ reason });
    },
    countRequest(label, stream, status, route) {
      requests.inc({ model: forModel(label).label, stream: stream ? 'true' : 'false', code: String(status), route });
    },
    upstreamRequest(upstream, outcome) {
      upstreamRequests.inc({ upstream, outcome });
    },
    upstreamRetry(upstream) {
      retries.inc({ upstream });
    },
    chatFirstSegment(upstream, outcome) {
      chatFirst.inc({ upstream, outcome });
    },
    relayed(route, reason, status) {
      relayed.inc({ route, reason, code: String(status) });
    },
    queueDepth(depth) {
      queueDepth.set(depth);
    },
    queueWait(seconds) {
      queueWait.observe(seconds);
    },
    setUpstreamHealthy(upstream, healthy) {
      upstreamHealthy.set({ upstream }, healthy ? 1 : 0);
    },
    clientDisconnect(phase) {
      disconnects.inc({ phase });
    },
  };
}
