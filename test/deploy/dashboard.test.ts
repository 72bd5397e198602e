/**
 * The Grafana dashboard (deploy/grafana/dashboards/thinkgate.json) queries only series that
 * exist: every thinkgate_* name against a live gateway's /metrics, every vllm:* name against
 * the simulator's /metrics (which serves vLLM's own gauge and counter names), both scraped from
 * test/support/stack.ts after real requests. The gateway's exposition also goes through
 * `promtool check metrics` (Prometheus' linter) when promtool is installed.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChatCompletionCreateParamsNonStreaming, ChatCompletionCreateParamsStreaming } from 'openai/resources/chat/completions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../support/stack.js';
import { REPO_ROOT, findTool, requireTool, skipWithout } from './tools.js';

interface Target {
  expr: string;
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { uid: string };
  targets?: Target[];
  panels?: Panel[];
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: Array<{ name: string; query: unknown; definition?: string }> };
}

const dashboard = JSON.parse(readFileSync(join(REPO_ROOT, 'deploy/grafana/dashboards/thinkgate.json'), 'utf8')) as Dashboard;
const allPanels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
const queries = [
  ...allPanels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)),
  ...dashboard.templating.list.map((v) => v.definition ?? ''),
];

/** Metric names in PromQL: thinkgate_* and vllm:* (the two namespaces the dashboard reads). */
export function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\b(thinkgate_[a-z0-9_]+|vllm:[a-z0-9_:]+)/g)].map((m) => m[1]!);
}

/** Sample names an exposition can carry: families from # TYPE, with histogram/summary suffixes. */
function exposedSampleNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = m as unknown as [string, string, string];
    names.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
    if (type === 'summary') for (const s of ['_sum', '_count']) names.add(name + s);
  }
  return names;
}

describe('grafana dashboard JSON', () => {
  it('is a provisionable dashboard: uid, unique panel ids, the datasource variable everywhere', () => {
    expect(dashboard.uid).toBe('thinkgate-ttc');
    const ids = allPanels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of allPanels.filter((x) => x.type !== 'row')) {
      expect(p.datasource?.uid, p.title).toBe('${datasource}');
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
    }
    expect(dashboard.templating.list.map((v) => v.name)).toEqual(['datasource', 'model']);
  });

  it('covers what the issue asks for', () => {
    const used = new Set(queries.flatMap(metricNames));
    for (const name of [
      'thinkgate_requests_total',
      'thinkgate_time_to_first_token_seconds_bucket',
      'thinkgate_time_to_first_answer_token_seconds_bucket',
      'thinkgate_request_thinking_tokens_bucket',
      'thinkgate_thinking_extensions_total',
      'thinkgate_thinking_truncations_total',
      'thinkgate_request_segments_bucket',
      'thinkgate_upstream_healthy',
      'thinkgate_upstream_requests_total',
      'vllm:num_requests_waiting',
      'vllm:kv_cache_usage_perc',
    ]) {
      expect(used.has(name), name).toBe(true);
    }
    expect(allPanels.some((p) => p.type === 'heatmap' && p.targets?.some((t) => t.expr.includes('thinking_tokens_bucket')))).toBe(true);
  });

  it('extracts metric names from PromQL (the check below can fail)', () => {
    expect(metricNames('sum by (le) (rate(thinkgate_x_bucket{model=~"$model"}[5m])) / vllm:kv_cache_usage_perc')).toEqual([
      'thinkgate_x_bucket',
      'vllm:kv_cache_usage_perc',
    ]);
  });
});

describe('grafana dashboard against live /metrics', () => {
  let stack: Stack;
  let gatewayText: string;
  let simText: string;

  beforeAll(async () => {
    stack = await startStack();
    // Traffic so that labelled series exist too: a truncation, an extension, a stream.
    // thinkgate's budget fields ride in the body beside the SDK's own (README).
    await stack.client.chat.completions.create({
      model: 'sim-r1',
      messages: [{ role: 'user', content: 'hi' }],
      max_thinking_tokens: 5,
    } as ChatCompletionCreateParamsNonStreaming);
    const stream = await stack.client.chat.completions.create({
      model: 'sim-r1',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
      min_thinking_tokens: 40,
    } as ChatCompletionCreateParamsStreaming);
    for await (const _ of stream) {
      // drain
    }
    gatewayText = await (await fetch(`${stack.url}/metrics`)).text();
    simText = await (await fetch(`${stack.sim.url}/metrics`)).text();
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('every thinkgate_* series the dashboard queries is exposed by the gateway', () => {
    const exposed = exposedSampleNames(gatewayText);
    expect(exposed.size).toBeGreaterThan(10);
    const missing = [...new Set(queries.flatMap(metricNames))].filter((n) => n.startsWith('thinkgate_') && !exposed.has(n));
    expect(missing).toEqual([]);
  });

  it("every vllm:* series the dashboard queries is one of vLLM's, as the simulator serves them", () => {
    const exposed = exposedSampleNames(simText);
    const missing = [...new Set(queries.flatMap(metricNames))].filter((n) => n.startsWith('vllm:') && !exposed.has(n));
    expect(missing).toEqual([]);
  });

  it('every thinkgate_* series the alert rules use is exposed by the gateway', () => {
    const rules = readFileSync(join(REPO_ROOT, 'deploy/prometheus/rules/thinkgate.rules.yml'), 'utf8');
    const exposed = exposedSampleNames(gatewayText);
    const used = [...new Set(metricNames(rules))];
    expect(used.length).toBeGreaterThan(3);
    expect(used.filter((n) => !exposed.has(n))).toEqual([]);
  });

  const promtool = findTool('promtool');
  it.skipIf(skipWithout(promtool))("the gateway's exposition passes promtool check metrics", () => {
    const out = execFileSync(requireTool(promtool, 'promtool'), ['check', 'metrics'], {
      input: gatewayText,
      encoding: 'utf8',
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    expect(out.trim()).toBe('');
  });
});
