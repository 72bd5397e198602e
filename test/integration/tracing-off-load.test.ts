/**
 * Tracing off costs nothing at start-up (src/tracing/tracing.ts): no OpenTelemetry SDK module is
 * even loaded. A child process (test/support/otel-load-probe.ts) records every specifier resolved
 * while it builds the app and serves one request; on, the same probe must see the SDK and the
 * exporter resolved from thinkgate's own tracing code, or the hook saw nothing and proves nothing.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

interface Probe {
  status: number;
  tracing: boolean;
  opentelemetry: { specifier: string; parent: string }[];
}

async function probe(env: Record<string, string>): Promise<Probe> {
  // Only the OTEL_* given here: none inherited from the test runner's environment.
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OTEL_')));
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'test/support/otel-load-probe.ts'], { env: { ...base, ...env }, timeout: 60_000 });
  return JSON.parse(stdout.trim().split('\n').pop()!) as Probe;
}

describe('tracing off: no OpenTelemetry module loaded', () => {
  it('off, thinkgate resolves no @opentelemetry module; on, it resolves the SDK and the protobuf exporter', async () => {
    const [off, on] = await Promise.all([probe({}), probe({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', OTEL_EXPORTER_OTLP_TIMEOUT: '500' })]);
    expect(off).toMatchObject({ status: 200, tracing: false });
    // prom-client probes for @opentelemetry/api itself (an optional require for exemplars, in
    // processCpuTotal.js): a third party's, with tracing on or off. Nothing else, and nothing from src/.
    expect(off.opentelemetry.filter((o) => !(o.specifier === '@opentelemetry/api' && o.parent.includes('/node_modules/prom-client/')))).toEqual([]);

    expect(on).toMatchObject({ status: 200, tracing: true });
    const fromSrc = on.opentelemetry.filter((o) => o.parent.includes('/src/tracing/')).map((o) => o.specifier);
    expect(fromSrc).toEqual(expect.arrayContaining(['@opentelemetry/sdk-trace', '@opentelemetry/exporter-trace-otlp-proto']));
    // The JSON exporter is not loaded when protobuf is in use.
    expect(on.opentelemetry.map((o) => o.specifier)).not.toContain('@opentelemetry/exporter-trace-otlp-http');
  }, 90_000);
});
