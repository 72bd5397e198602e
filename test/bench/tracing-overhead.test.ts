/**
 * `npm run bench -- --tracing` (issue 17): the flags, the on/off ratios (./bench/tracing-overhead.ts)
 * and the OTLP sink (./bench/otlp-sink.mjs) that must count exactly the spans it was sent, in
 * both encodings, or the "spans each" line means nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emptyBatch } from '../../bench/batch.js';
import { perRequestFigures } from '../../bench/cpu.js';
import { computeFigures, type BatchSide, type TargetFigures } from '../../bench/figures.js';
import { startOtlpSink, type OtlpSinkChild } from '../../bench/procs.js';
import { parseSettings } from '../../bench/settings.js';
import { renderTracingOverhead, tracingOverhead } from '../../bench/tracing-overhead.js';
import { exportRequestType } from '../support/otlp-receiver.js';

function fig(target: string, c: number, o: { tokens: number; cpuS: number; ttft: number }): TargetFigures {
  const b = emptyBatch();
  b.wallMs = 1000;
  b.requests = 10;
  b.ok = 10;
  b.relayedTokens = o.tokens;
  for (let i = 0; i < 10; i++) b.ttftMs.push(o.ttft);
  const side: BatchSide = {
    proxyCpuS: o.cpuS,
    simCpuS: 0,
    loadgenCpuS: 0,
    proxyRssBefore: null,
    proxyRssPeak: null,
    upstream: { requests: 0, promptTokens: 0, cachedPromptTokens: 0, generationTokens: 0 },
  };
  return computeFigures(target, c, b, [side]);
}

describe('bench --tracing', () => {
  it('adds each thinkgate target\'s traced twin right after it; the protocol is checked', () => {
    expect(parseSettings(['--quick', '--tracing'])).toMatchObject({
      targets: ['direct', 'minimal', 'thinkgate', 'thinkgate-traced', 'thinkgate-forcing', 'thinkgate-forcing-traced'],
      tracing: { protocol: 'http/protobuf' },
    });
    expect(parseSettings(['--quick']).tracing).toBeNull();
    expect(parseSettings(['--tracing', '--tracing-protocol', 'http/json', '--targets', 'direct,thinkgate']).targets).toEqual(['direct', 'thinkgate', 'thinkgate-traced']);
    expect(parseSettings(['--targets', 'direct,thinkgate-traced']).tracing).toEqual({ protocol: 'http/protobuf' });
    expect(() => parseSettings(['--tracing', '--tracing-protocol', 'grpc'])).toThrow(/--tracing-protocol/);
    expect(() => parseSettings(['--tracing-protocol', 'http/json'])).toThrow(/needs --tracing/);
  });

  it('divides each traced twin by its untraced target, per level, and CPU per request at one stream', () => {
    const t = tracingOverhead([
      {
        name: 'fast',
        levels: [
          [
            fig('direct', 1, { tokens: 100_000, cpuS: 0, ttft: 1 }),
            fig('thinkgate', 1, { tokens: 100_000, cpuS: 0.4, ttft: 2 }),
            fig('thinkgate-traced', 1, { tokens: 100_000, cpuS: 0.5, ttft: 2.5 }),
            fig('thinkgate-forcing', 1, { tokens: 100_000, cpuS: 0.8, ttft: 3 }),
          ],
        ],
        perRequest: [
          perRequestFigures('thinkgate', { cpuS: 0.1, requests: 100, tokens: 100 }, { cpuS: 0.1 + 100 * 2000 * 5e-6, requests: 100, tokens: 200_100 }, 0),
          perRequestFigures('thinkgate-traced', { cpuS: 0.15, requests: 100, tokens: 100 }, { cpuS: 0.15 + 100 * 2000 * 5e-6, requests: 100, tokens: 200_100 }, 0),
        ],
        tracing: { protocol: 'http/protobuf', spans: 40, posts: 2, bytes: 4096, requests: 20 },
      },
      { name: 'paced', levels: [[fig('thinkgate', 16, { tokens: 1000, cpuS: 0.1, ttft: 1 })]], perRequest: null },
    ])!;
    // Only the relay has a twin at this level; forcing without one is not a row.
    expect(t.rows).toHaveLength(1);
    expect(t.rows[0]).toMatchObject({ scenario: 'fast', target: 'thinkgate', concurrency: 1, addedTtftP50Ms: 0.5, errorsOn: 0 });
    expect(t.rows[0]!.cpuPerTokenRatio).toBeCloseTo(1.25, 6);
    expect(t.perRequest!.shortRatio).toBeCloseTo(1.5, 6);
    expect(t.perRequest!.perRequestRatio).toBeCloseTo(1.5, 2);
    expect(t.perRequest!.perTokenRatio).toBeCloseTo(1, 6);
    expect(t.sinks).toEqual([{ scenario: 'fast', protocol: 'http/protobuf', spans: 40, posts: 2, bytes: 4096, requests: 20 }]);
    const md = renderTracingOverhead(t, { start: [2.5, 1, 1], end: [0.5, 1, 1] });
    expect(md).toContain('**1.25x**');
    expect(md).toContain('load average 2.5 1.0 1.0 at start');
    expect(md).toContain('40 spans in 2 exports');
    // Without a traced twin anywhere there is no section.
    expect(tracingOverhead([{ name: 'fast', levels: [[fig('thinkgate', 1, { tokens: 1, cpuS: 1, ttft: 1 })]], perRequest: null }])).toBeNull();
  });

  describe('the OTLP sink', () => {
    let sink: OtlpSinkChild;
    beforeAll(async () => {
      sink = await startOtlpSink();
    }, 60_000);
    afterAll(async () => {
      await sink?.stop();
    });

    const span = (name: string) => ({
      traceId: Buffer.alloc(16, 1),
      spanId: Buffer.alloc(8, 2),
      name,
      kind: 2,
      startTimeUnixNano: '1700000000000000000',
      endTimeUnixNano: '1700000000100000000',
      // Nested messages and varints beside the spans: the walker must skip them, not count them.
      attributes: [{ key: 'thinkgate.segments', value: { intValue: '4' } }],
      events: [{ name: 'thinkgate.retry', timeUnixNano: '1700000000050000000' }],
    });
    const request = {
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'thinkgate' } }] },
          scopeSpans: [
            { scope: { name: 'thinkgate', version: '0.1.0' }, spans: [span('a'), span('b')] },
            { scope: { name: 'other' }, spans: [span('c')], schemaUrl: 'https://opentelemetry.io/schemas/1.26.0' },
          ],
        },
        { resource: {}, scopeSpans: [{ spans: [span('d'), span('e')] }] },
      ],
    };
    const post = (type: string, body: Uint8Array | string) => fetch(`${sink.url}/v1/traces`, { method: 'POST', headers: { 'content-type': type }, body });

    it('counts the spans of a protobuf export (encoded with the official .proto) and of a JSON one', async () => {
      const t = exportRequestType();
      const bin = t.encode(t.fromObject(request)).finish();
      expect((await post('application/x-protobuf', bin)).status).toBe(200);
      expect(await sink.count()).toMatchObject({ spans: 5, posts: 1 });
      const json = JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [{ name: 'x' }, { name: 'y' }] }] }] });
      expect((await post('application/json', json)).status).toBe(200);
      expect(await sink.count()).toMatchObject({ spans: 7, posts: 2 });
    });

    it('refuses what is not an OTLP trace export, counting nothing', async () => {
      const before = await sink.count();
      expect((await post('application/x-protobuf', new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff]))).status).toBe(400);
      expect((await post('text/plain', 'hello')).status).toBe(400);
      expect((await post('application/json', '{')).status).toBe(400);
      expect(await sink.count()).toMatchObject({ spans: before.spans, posts: before.posts });
    });
  });
});

describe('bench --twin-config', () => {
  it('adds each thinkgate target\'s config twin right after it; the patch must be a JSON object', async () => {
    const s = parseSettings(['--quick', '--twin-config', '{"response":{"max_tokens_per_chunk":1}}']);
    expect(s.targets).toEqual(['direct', 'minimal', 'thinkgate', 'thinkgate-twin', 'thinkgate-forcing', 'thinkgate-forcing-twin']);
    expect(s.twinConfig).toEqual({ response: { max_tokens_per_chunk: 1 } });
    expect(parseSettings(['--quick']).twinConfig).toBeNull();
    expect(() => parseSettings(['--twin-config', '[1]'])).toThrow(/JSON object/);
    expect(() => parseSettings(['--twin-config', '{}', '--tracing'])).toThrow(/exclude each other/);
  });

  it('merges the patch into the bench config key by key, and divides each twin by its base target', async () => {
    const { mergeConfig } = await import('../../bench/scenario.js');
    const base = { server: { log_level: 'info' }, limits: { max_queue: 1024, max_concurrent_requests: 1024 }, upstreams: [{ url: 'a' }] };
    expect(mergeConfig(base, { limits: { max_queue: 8 }, response: { max_tokens_per_chunk: 1 }, upstreams: [{ url: 'b' }] })).toEqual({
      server: { log_level: 'info' },
      limits: { max_queue: 8, max_concurrent_requests: 1024 },
      upstreams: [{ url: 'b' }],
      response: { max_tokens_per_chunk: 1 },
    });
    expect(base.limits.max_queue).toBe(1024);
    const { twinOverhead } = await import('../../bench/tracing-overhead.js');
    const t = twinOverhead([
      {
        name: 'fast',
        levels: [[fig('thinkgate', 64, { tokens: 100_000, cpuS: 1.0, ttft: 2 }), fig('thinkgate-twin', 64, { tokens: 100_000, cpuS: 1.5, ttft: 3 })]],
        perRequest: null,
      },
    ]);
    expect(t!.rows).toHaveLength(1);
    expect(t!.rows[0]).toMatchObject({ target: 'thinkgate', concurrency: 64 });
    expect(t!.rows[0]!.cpuPerTokenRatio).toBeCloseTo(1.5, 6);
    const md = renderTracingOverhead(t!, { start: [0], end: [0] }, { response: { max_tokens_per_chunk: 1 } });
    expect(md).toContain('Config twin (--twin-config, --twin-dist)');
    expect(md).toContain('{"response":{"max_tokens_per_chunk":1}}');
    const dist = renderTracingOverhead(t!, { start: [0], end: [0] }, {}, '/tmp/base/dist');
    expect(dist).toContain('running the build in `/tmp/base/dist`');
    expect(dist).not.toContain('merged into its config');
  });

  it('--twin-dist: a twin on another build (an A/B of a code change), with or without a config patch', () => {
    const s = parseSettings(['--quick', '--twin-dist', '/tmp/base/dist']);
    expect(s.twinDist).toBe('/tmp/base/dist');
    expect(s.twinConfig).toEqual({});
    expect(s.targets).toEqual(['direct', 'minimal', 'thinkgate', 'thinkgate-twin', 'thinkgate-forcing', 'thinkgate-forcing-twin']);
    expect(parseSettings(['--quick']).twinDist).toBeNull();
    expect(() => parseSettings(['--twin-dist', 'x', '--tracing'])).toThrow(/exclude each other/);
  });
});
