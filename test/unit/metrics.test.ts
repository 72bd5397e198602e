import { describe, it, expect } from 'vitest';
import { Registry, register as globalRegistry } from 'prom-client';
import { createMetrics, type MetricsOptions } from '../../src/metrics/metrics.js';
import { RequestMetrics } from '../../src/metrics/request-metrics.js';
import type { EngineEvent } from '../../src/engine/types.js';
import { forEachEvent } from '../../src/serving/event-feed.js';

const BUILD = { version: '1.2.3', commit: 'abc1234', node: '20.0.0' };

function setup(opts: MetricsOptions = {}) {
  const registry = new Registry();
  const metrics = createMetrics(registry, BUILD, opts);
  const clock = { t: 0 };
  const now = () => clock.t;
  const text = async () => (await registry.metrics()).split('\n');
  return { registry, metrics, clock, now, text };
}

/** The `le` values of one histogram series, in exposition order. */
function bucketBounds(lines: string[], name: string): string[] {
  const re = new RegExp(`^${name}_bucket\\{le="([^"]+)"`);
  return lines.flatMap((l) => {
    const m = re.exec(l);
    return m?.[1] === undefined ? [] : [m[1]];
  });
}

function finish(thinking: number, answer: number, segments: number, extensions: number, truncated: boolean): EngineEvent {
  return {
    type: 'finish',
    reason: 'stop',
    usage: {
      prompt_tokens: 100,
      completion_tokens: thinking + answer + 2,
      total_tokens: 100 + thinking + answer + 2,
      reasoning_tokens: thinking,
      answer_tokens: answer,
    },
    budgetForcing: { thinking_tokens: thinking, extensions, truncated, segments },
  };
}

describe('RequestMetrics fed a scripted budget-forcing run', () => {
  it('records tokens, segments, extensions, truncation, latencies and the status exactly', async () => {
    const { metrics, clock, now, text } = setup();
    const rm = new RequestMetrics(metrics, { model: 'qwen3', stream: true, route: '/v1/chat/completions' }, now);
    rm.modelServed();
    expect(await text()).toContain('thinkgate_inflight_requests 1');

    const script: Array<[number, EngineEvent]> = [
      [0, { type: 'segment', index: 0, cause: 'initial', promptTokens: 100 }],
      [1500, { type: 'reasoning', text: 'Hmm', tokens: 1 }],
      [1600, { type: 'reasoning', text: ' so', tokens: 1 }],
      [1700, { type: 'usage', segment: 0, promptTokens: 100, completionTokens: 30 }],
      [1700, { type: 'segment', index: 1, cause: 'extend', promptTokens: 131 }],
      [1800, { type: 'reasoning', text: 'Wait', tokens: 1 }],
      [2000, { type: 'usage', segment: 1, promptTokens: 131, completionTokens: 90, cachedTokens: 128 }],
      [2000, { type: 'segment', index: 2, cause: 'close', promptTokens: 225 }],
      [4000, { type: 'content', text: 'Forty', tokens: 1 }],
      [4500, { type: 'content', text: '-two', tokens: 2 }],
      [4600, { type: 'usage', segment: 2, promptTokens: 225, completionTokens: 7, cachedTokens: 224 }],
      [4600, finish(120, 7, 3, 1, true)],
    ];
    for (const [t, ev] of script) {
      clock.t = t;
      rm.onEvent(ev);
    }
    clock.t = 5000;
    rm.end({ status: 200 });

    const lines = await text();
    for (const want of [
      'thinkgate_requests_total{model="qwen3",stream="true",code="200",route="/v1/chat/completions"} 1',
      'thinkgate_request_thinking_tokens_bucket{le="100",model="qwen3"} 0',
      'thinkgate_request_thinking_tokens_bucket{le="200",model="qwen3"} 1',
      'thinkgate_request_thinking_tokens_sum{model="qwen3"} 120',
      'thinkgate_request_thinking_tokens_count{model="qwen3"} 1',
      'thinkgate_request_answer_tokens_bucket{le="5",model="qwen3"} 0',
      'thinkgate_request_answer_tokens_bucket{le="10",model="qwen3"} 1',
      'thinkgate_request_answer_tokens_sum{model="qwen3"} 7',
      'thinkgate_request_segments_bucket{le="2",model="qwen3"} 0',
      'thinkgate_request_segments_bucket{le="3",model="qwen3"} 1',
      'thinkgate_request_segments_sum{model="qwen3"} 3',
      'thinkgate_thinking_extensions_total{model="qwen3"} 1',
      'thinkgate_thinking_truncations_total{model="qwen3"} 1',
      'thinkgate_segments_total{model="qwen3",cause="initial"} 1',
      'thinkgate_segments_total{model="qwen3",cause="extend"} 1',
      'thinkgate_segments_total{model="qwen3",cause="close"} 1',
      // TTFT is the first reasoning token (1.5 s), not the first answer token.
      'thinkgate_time_to_first_token_seconds_bucket{le="1",model="qwen3"} 0',
      'thinkgate_time_to_first_token_seconds_bucket{le="2.5",model="qwen3"} 1',
      'thinkgate_time_to_first_token_seconds_sum{model="qwen3"} 1.5',
      'thinkgate_time_to_first_token_seconds_count{model="qwen3"} 1',
      'thinkgate_time_to_first_answer_token_seconds_sum{model="qwen3"} 4',
      'thinkgate_time_to_first_answer_token_seconds_count{model="qwen3"} 1',
      'thinkgate_request_duration_seconds_bucket{le="2.5",model="qwen3",stream="true"} 0',
      'thinkgate_request_duration_seconds_bucket{le="5",model="qwen3",stream="true"} 1',
      'thinkgate_request_duration_seconds_sum{model="qwen3",stream="true"} 5',
      'thinkgate_upstream_prompt_tokens_total{model="qwen3"} 456',
      'thinkgate_upstream_cached_prompt_tokens_total{model="qwen3"} 352',
      'thinkgate_inflight_requests 0',
      'thinkgate_build_info{version="1.2.3",commit="abc1234",node="20.0.0"} 1',
    ]) {
      expect(lines).toContain(want);
    }
    // A segment cause that never happened has no series.
    expect(lines.some((l) => l.startsWith('thinkgate_segments_total{model="qwen3",cause="continue"}'))).toBe(false);
  });

  it('uses 1-2-5 token buckets that start at 0 and puts a skipped thinking (M = 0) in le="0"', async () => {
    const { metrics, now, text } = setup();
    const rm = new RequestMetrics(metrics, { model: 'm', stream: false, route: '/v1/chat/completions' }, now);
    rm.modelServed();
    rm.onEvent({ type: 'segment', index: 0, cause: 'initial', promptTokens: 10 });
    rm.onEvent({ type: 'content', text: 'hi', tokens: 1 });
    rm.onEvent(finish(0, 1, 1, 0, false));
    rm.end({ status: 200 });
    const lines = await text();
    const tokenBounds = ['0', '1', '2', '5', '10', '20', '50', '100', '200', '500', '1000', '2000', '5000',
      '10000', '20000', '50000', '100000', '200000', '500000', '1000000', '+Inf'];
    expect(bucketBounds(lines, 'thinkgate_request_thinking_tokens')).toEqual(tokenBounds);
    expect(bucketBounds(lines, 'thinkgate_request_answer_tokens')).toEqual(tokenBounds);
    expect(bucketBounds(lines, 'thinkgate_request_segments')).toEqual(
      ['1', '2', '3', '4', '5', '6', '8', '10', '16', '32', '+Inf'],
    );
    // vLLM's own buckets, so dashboards overlay the gateway's and vLLM's latencies.
    const seconds = bucketBounds(lines, 'thinkgate_request_duration_seconds');
    expect([seconds[0], seconds.at(-2)]).toEqual(['0.3', '7680']);
    const ttft = bucketBounds(lines, 'thinkgate_time_to_first_token_seconds');
    expect([ttft[0], ttft.at(-2)]).toEqual(['0.001', '2560']);
    expect(lines).toContain('thinkgate_budget_outcomes_total{model="m",outcome="natural"} 1');
    expect(lines).toContain('thinkgate_request_thinking_tokens_bucket{le="0",model="m"} 1');
    expect(lines).toContain('thinkgate_thinking_extensions_total{model="m"} 0');
    expect(lines).toContain('thinkgate_thinking_truncations_total{model="m"} 0');
    expect(lines).toContain('thinkgate_request_duration_seconds_count{model="m",stream="false"} 1');
    expect(lines).toContain('thinkgate_requests_total{model="m",stream="false",code="200",route="/v1/chat/completions"} 1');
  });

  it('counts end() once: a second call changes neither the counter, the gauge nor the duration', async () => {
    const { metrics, now, text } = setup();
    const a = new RequestMetrics(metrics, { model: 'm', stream: true, route: '/v1/chat/completions' }, now);
    a.modelServed();
    const b = new RequestMetrics(metrics, { model: 'm', stream: true, route: '/v1/chat/completions' }, now);
    b.modelServed();
    expect(await text()).toContain('thinkgate_inflight_requests 2');
    a.end({ status: 502 });
    a.end({ status: 502 });
    a.end({ status: 200 });
    const lines = await text();
    expect(lines).toContain('thinkgate_inflight_requests 1');
    expect(lines).toContain('thinkgate_requests_total{model="m",stream="true",code="502",route="/v1/chat/completions"} 1');
    expect(lines.some((l) => l.includes('code="200"'))).toBe(false);
    expect(lines).toContain('thinkgate_request_duration_seconds_count{model="m",stream="true"} 1');
    b.end({ status: 200 });
    expect(await text()).toContain('thinkgate_inflight_requests 0');
  });

  it('observes no token or latency histograms for a request that failed before any token', async () => {
    const { metrics, clock, now, text } = setup();
    const rm = new RequestMetrics(metrics, { model: 'm', stream: false, route: '/v1/chat/completions' }, now);
    rm.modelServed();
    rm.onEvent({ type: 'segment', index: 0, cause: 'initial', promptTokens: 10 });
    clock.t = 30_000;
    rm.end({ status: 504 });
    const lines = await text();
    expect(lines).toContain('thinkgate_requests_total{model="m",stream="false",code="504",route="/v1/chat/completions"} 1');
    expect(lines).toContain('thinkgate_request_duration_seconds_sum{model="m",stream="false"} 30');
    for (const name of ['time_to_first_token_seconds', 'time_to_first_answer_token_seconds', 'request_thinking_tokens']) {
      expect(lines.some((l) => l.startsWith(`thinkgate_${name}_count`))).toBe(false);
    }
  });
});

describe('client disconnects', () => {
  async function phaseAfter(events: EngineEvent[], explicit?: 'queued'): Promise<string[]> {
    const { metrics, now, text } = setup();
    const rm = new RequestMetrics(metrics, { model: 'm', stream: true, route: '/v1/chat/completions' }, now);
    rm.modelServed();
    for (const ev of events) rm.onEvent(ev);
    const left = { status: 499, abort: 'client_disconnect', queued: explicit === 'queued' } as const;
    rm.end(left);
    rm.end(left); // a second report of the same disconnect is not counted again
    return (await text()).filter((l) => l.startsWith('thinkgate_client_disconnects_total{'));
  }
  const seg: EngineEvent = { type: 'segment', index: 0, cause: 'initial', promptTokens: 5 };
  const think: EngineEvent = { type: 'reasoning', text: 'x', tokens: 1 };
  const answer: EngineEvent = { type: 'content', text: 'y', tokens: 1 };
  const usage: EngineEvent = { type: 'usage', segment: 0, promptTokens: 5, completionTokens: 1 };

  it('infers the phase from the events seen so far, once per request', async () => {
    expect(await phaseAfter([])).toEqual(['thinkgate_client_disconnects_total{phase="first_token"} 1']);
    expect(await phaseAfter([seg])).toEqual(['thinkgate_client_disconnects_total{phase="first_token"} 1']);
    expect(await phaseAfter([seg, think])).toEqual(['thinkgate_client_disconnects_total{phase="thinking"} 1']);
    expect(await phaseAfter([seg, think, answer])).toEqual(['thinkgate_client_disconnects_total{phase="answer"} 1']);
    expect(await phaseAfter([seg, think, usage])).toEqual([
      'thinkgate_client_disconnects_total{phase="between_segments"} 1',
    ]);
    expect(await phaseAfter([seg, think, usage, { ...seg, index: 1, cause: 'extend' }, think])).toEqual([
      'thinkgate_client_disconnects_total{phase="thinking"} 1',
    ]);
  });

  it('takes the phase the lifecycle names (queued)', async () => {
    expect(await phaseAfter([], 'queued')).toEqual(['thinkgate_client_disconnects_total{phase="queued"} 1']);
  });
});

describe('one tap and one end(outcome)', () => {
  it('the tap (onEvent from the consumer loop) observes every event once, the started ones first, and closes the runs when the consumer stops', async () => {
    const { metrics, now, text } = setup();
    const rm = new RequestMetrics(metrics, { model: 'm', stream: true, route: '/v1/chat/completions' }, now);
    rm.modelServed();
    const seen: string[] = [];
    let closed = false;
    async function* rest() {
      try {
        yield { index: 0, ev: { type: 'segment', index: 1, cause: 'extend', promptTokens: 5 } as EngineEvent };
        yield { index: 1, ev: { type: 'segment', index: 0, cause: 'initial', promptTokens: 5 } as EngineEvent };
        yield { index: 0, ev: { type: 'reasoning', text: 'never pulled', tokens: 1 } as EngineEvent };
      } finally {
        closed = true;
      }
    }
    const first = [{ index: 0, ev: { type: 'segment', index: 0, cause: 'initial', promptTokens: 5 } as EngineEvent }];
    const stop = new Error('the consumer stops');
    await expect(
      forEachEvent({ first, rest: rest(), observe: (e) => rm.onEvent(e.ev, e.index) }, ({ index, ev }) => {
        seen.push(`${index}:${ev.type}:${ev.type === 'segment' ? ev.cause : ''}`);
        if (seen.length === 3) throw stop;
      }),
    ).rejects.toBe(stop);
    expect(seen).toEqual(['0:segment:initial', '0:segment:extend', '1:segment:initial']);
    expect(closed).toBe(true);
    rm.end({ status: 200 });
    const lines = await text();
    expect(lines).toContain('thinkgate_segments_total{model="m",cause="initial"} 2');
    expect(lines).toContain('thinkgate_segments_total{model="m",cause="extend"} 1');
  });

  it('counts status, abort reason and disconnect phase from the outcome alone, once', async () => {
    const { metrics, now, text } = setup();
    const ends: Array<[boolean, Parameters<RequestMetrics['end']>[0]]> = [
      [false, { status: 504, abort: 'upstream_timeout' }],
      [false, { status: 502, abort: 'upstream_error' }],
      [false, { status: 429 }],
      [true, { status: 499, abort: 'client_disconnect' }],
      // Cut in the admission queue by the drain deadline: a "queued" disconnect, as before the lifecycle.
      [false, { status: 503, abort: 'drain_deadline', queued: true }],
    ];
    for (const [thinking, outcome] of ends) {
      const rm = new RequestMetrics(metrics, { model: 'm', stream: true, route: '/v1/chat/completions' }, now);
      rm.modelServed();
      if (thinking) rm.onEvent({ type: 'reasoning', text: 'x', tokens: 1 });
      rm.end(outcome);
      rm.end({ status: 200, abort: 'client_disconnect' }); // ignored: the first end counts
    }
    const lines = await text();
    for (const want of [
      'thinkgate_request_aborts_total{reason="upstream_timeout"} 1',
      'thinkgate_request_aborts_total{reason="upstream_error"} 1',
      'thinkgate_request_aborts_total{reason="client_disconnect"} 1',
      'thinkgate_request_aborts_total{reason="drain_deadline"} 1',
      'thinkgate_client_disconnects_total{phase="thinking"} 1',
      'thinkgate_client_disconnects_total{phase="queued"} 1',
      'thinkgate_requests_total{model="m",stream="true",code="429",route="/v1/chat/completions"} 1',
      'thinkgate_requests_total{model="m",stream="true",code="499",route="/v1/chat/completions"} 1',
      'thinkgate_inflight_requests 0',
    ]) expect(lines).toContain(want);
    expect(lines.some((l) => l.includes('code="200"'))).toBe(false);
  });
});

describe('createMetrics', () => {
  it('folds model labels past the cap into "other"', async () => {
    const { metrics, now, text } = setup({ maxModelLabels: 2 });
    for (const model of ['a', 'b', 'c', 'd', 'a']) {
      const rm = new RequestMetrics(metrics, { model, stream: false, route: '/v1/chat/completions' }, now);
      rm.modelServed();
      rm.end({ status: 200 });
    }
    const lines = (await text()).filter((l) => l.startsWith('thinkgate_requests_total{'));
    expect(lines).toEqual([
      'thinkgate_requests_total{model="a",stream="false",code="200",route="/v1/chat/completions"} 2',
      'thinkgate_requests_total{model="b",stream="false",code="200",route="/v1/chat/completions"} 1',
      'thinkgate_requests_total{model="other",stream="false",code="200",route="/v1/chat/completions"} 2',
    ]);
  });

  it('counts names never found served under "unknown", outside the cap (issue 11, item 6)', async () => {
    const { metrics, now, text } = setup({ maxModelLabels: 2 });
    for (let i = 0; i < 50; i++) new RequestMetrics(metrics, { model: `junk-${i}`, stream: false, route: '/v1/chat/completions' }, now).end({ status: 404 });
    // The reserved labels are not names a client can take over.
    new RequestMetrics(metrics, { model: 'other', stream: false, route: '/v1/chat/completions' }, now).end({ status: 404 });
    const served = new RequestMetrics(metrics, { model: 'qwen3', stream: false, route: '/v1/chat/completions' }, now);
    served.modelServed();
    served.end({ status: 200 });
    // A later request for a model found served before keeps its label even when it fails
    // before the route could check again (a 429 at admission).
    new RequestMetrics(metrics, { model: 'qwen3', stream: false, route: '/v1/chat/completions' }, now).end({ status: 429 });
    const lines = (await text()).filter((l) => l.startsWith('thinkgate_requests_total{'));
    expect(lines).toEqual([
      'thinkgate_requests_total{model="unknown",stream="false",code="404",route="/v1/chat/completions"} 51',
      'thinkgate_requests_total{model="qwen3",stream="false",code="200",route="/v1/chat/completions"} 1',
      'thinkgate_requests_total{model="qwen3",stream="false",code="429",route="/v1/chat/completions"} 1',
    ]);
  });

  it('counts upstream outcomes, health and direct request counts', async () => {
    const { metrics, text } = setup();
    const up = 'http://vllm-0:8000';
    metrics.upstreamRequest(up, 'ok');
    metrics.upstreamRequest(up, 'ok');
    metrics.upstreamRequest(up, 'timeout');
    metrics.setUpstreamHealthy(up, true);
    metrics.setUpstreamHealthy('http://vllm-1:8000', true);
    metrics.setUpstreamHealthy('http://vllm-1:8000', false);
    metrics.countRequest('m', true, 401, '/v1/chat/completions');
    const lines = await text();
    expect(lines).toContain('thinkgate_upstream_requests_total{upstream="http://vllm-0:8000",outcome="ok"} 2');
    expect(lines).toContain('thinkgate_upstream_requests_total{upstream="http://vllm-0:8000",outcome="timeout"} 1');
    expect(lines).toContain('thinkgate_upstream_healthy{upstream="http://vllm-0:8000"} 1');
    expect(lines).toContain('thinkgate_upstream_healthy{upstream="http://vllm-1:8000"} 0');
    expect(lines).toContain('thinkgate_requests_total{model="m",stream="true",code="401",route="/v1/chat/completions"} 1');
  });

  it('defaults commit to "unknown" and node to the running version', async () => {
    const registry = new Registry();
    createMetrics(registry, { version: '0.1.0' });
    expect((await registry.metrics()).split('\n')).toContain(
      `thinkgate_build_info{version="0.1.0",commit="unknown",node="${process.versions.node}"} 1`,
    );
  });

  it('keeps two registries independent and never touches the global one', async () => {
    const one = setup();
    const two = setup();
    const rm = new RequestMetrics(one.metrics, { model: 'm', stream: false, route: '/v1/chat/completions' }, one.now);
    rm.modelServed();
    rm.end({ status: 200 });
    one.metrics.clientDisconnect('answer');
    expect(await one.text()).toContain('thinkgate_requests_total{model="m",stream="false",code="200",route="/v1/chat/completions"} 1');
    const other = await two.text();
    expect(other.some((l) => l.startsWith('thinkgate_requests_total{'))).toBe(false);
    expect(other.some((l) => l.startsWith('thinkgate_client_disconnects_total{'))).toBe(false);
    expect(other).toContain('thinkgate_inflight_requests 0');
    expect(globalRegistry.getSingleMetric('thinkgate_requests_total')).toBeUndefined();
  });

  it('adds the process and Node runtime metrics only when asked', async () => {
    const off = await setup().text();
    expect(off.some((l) => l.startsWith('thinkgate_process_') || l.startsWith('thinkgate_nodejs_'))).toBe(false);
    const on = await setup({ processMetrics: true }).text();
    expect(on.some((l) => l.startsWith('thinkgate_process_cpu_user_seconds_total '))).toBe(true);
    expect(on.some((l) => l.startsWith('thinkgate_nodejs_heap_size_used_bytes '))).toBe(true);
  });

  it('names every metric of docs/metrics.md', async () => {
    const { registry } = setup();
    const names = (await registry.getMetricsAsJSON()).map((m) => m.name);
    for (const name of [
      'thinkgate_requests_total', 'thinkgate_request_thinking_tokens', 'thinkgate_request_answer_tokens',
      'thinkgate_thinking_extensions_total', 'thinkgate_thinking_truncations_total', 'thinkgate_request_segments',
      'thinkgate_time_to_first_token_seconds', 'thinkgate_time_to_first_answer_token_seconds',
      'thinkgate_request_duration_seconds', 'thinkgate_inflight_requests', 'thinkgate_upstream_requests_total',
      'thinkgate_upstream_healthy', 'thinkgate_client_disconnects_total', 'thinkgate_build_info',
      'thinkgate_segments_total', 'thinkgate_upstream_prompt_tokens_total',
      'thinkgate_upstream_cached_prompt_tokens_total',
    ]) {
      expect(names).toContain(name);
    }
  });
});

describe('RequestMetrics: issue 4 series', () => {
  it('records requested budgets, thinking duration, per-upstream segment latency, outcomes and aborts', async () => {
    const registry = new Registry();
    const metrics = createMetrics(registry, { version: 't' });
    let t = 0;
    const rm = new RequestMetrics(metrics, { model: 'm', stream: true, route: '/v1/chat/completions' }, () => t);
    rm.modelServed();
    rm.setUpstream('http://vllm-0:8000');
    rm.budget(100, 20);
    rm.onEvent({ type: 'segment', index: 1, cause: 'initial', promptTokens: 10 });
    t = 200;
    rm.onEvent({ type: 'reasoning', text: 'a', tokens: 1 }); // upstream TTFT 0.2 s, thinking starts
    t = 1200;
    rm.onEvent({ type: 'segment', index: 2, cause: 'extend', promptTokens: 30 }); // segment 1 took 1.2 s
    t = 1250;
    rm.onEvent({ type: 'reasoning', text: 'Wait b', tokens: 2 });
    t = 2200;
    rm.onEvent({ type: 'content', text: 'x', tokens: 1 }); // thinking lasted 2.0 s
    t = 2500;
    rm.onEvent({
      type: 'finish', reason: 'stop',
      usage: { prompt_tokens: 10, completion_tokens: 40, total_tokens: 50, reasoning_tokens: 30, answer_tokens: 5 },
      budgetForcing: { thinking_tokens: 30, extensions: 1, truncated: false, segments: 2 },
    });
    rm.end({ status: 504, abort: 'upstream_timeout' });
    const text = await registry.metrics();
    for (const line of [
      'thinkgate_requested_max_thinking_tokens_sum{model="m"} 100',
      'thinkgate_requested_min_thinking_tokens_sum{model="m"} 20',
      'thinkgate_thinking_duration_seconds_sum{model="m"} 2',
      'thinkgate_upstream_time_to_first_token_seconds_sum{upstream="http://vllm-0:8000"} 0.25',
      'thinkgate_upstream_time_to_first_token_seconds_count{upstream="http://vllm-0:8000"} 2',
      'thinkgate_upstream_segment_duration_seconds_sum{upstream="http://vllm-0:8000"} 2.5',
      'thinkgate_upstream_segment_duration_seconds_count{upstream="http://vllm-0:8000"} 2',
      'thinkgate_budget_outcomes_total{model="m",outcome="extended"} 1',
      'thinkgate_request_aborts_total{reason="upstream_timeout"} 1',
    ]) expect(text).toContain(line);
  });
});
