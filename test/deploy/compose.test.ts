/**
 * docker-compose.yml against the Compose Specification's JSON schema (test/fixtures, from
 * compose-go, see compose-spec.SOURCE.md), since `docker compose config` cannot run without
 * the compose plugin. .ci/deploy.sh additionally loads it with compose-go per profile.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfigFromYaml } from '../../src/config/index.js';
import { REPO_ROOT } from './tools.js';

type Service = {
  profiles?: string[];
  volumes?: Array<string | { type: string; source: string }>;
  depends_on?: Record<string, { condition: string; required?: boolean }>;
  healthcheck?: { test: string[] };
  networks?: Record<string, { aliases?: string[] } | null>;
  command?: string[];
  read_only?: boolean;
  tmpfs?: string[];
  environment?: Record<string, string>;
};
type Compose = { services: Record<string, Service>; volumes?: Record<string, unknown> };

const compose = parse(readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8')) as Compose;
const schema = JSON.parse(readFileSync(join(REPO_ROOT, 'test/fixtures/compose-spec.json'), 'utf8')) as object;
const ajv = new Ajv2020({ allErrors: true, strict: false });
const validate = ajv.compile(schema);

describe('docker-compose.yml', () => {
  it('is valid against the Compose Specification schema', () => {
    const ok = validate(compose);
    expect(validate.errors ?? [], JSON.stringify(validate.errors, null, 2)).toEqual([]);
    expect(ok).toBe(true);
  });

  it('the schema rejects what docker compose rejects (the check can fail)', () => {
    const broken = structuredClone(compose);
    (broken.services.thinkgate as Record<string, unknown>).restart_policy = 'always';
    expect(validate(broken)).toBe(false);
    const badDep = structuredClone(compose);
    badDep.services.thinkgate!.depends_on!.vllm!.condition = 'service_ready';
    expect(validate(badDep)).toBe(false);
  });

  it('has one backend per profile, each answering as `vllm`, and thinkgate gated on its health', () => {
    const backends = { vllm: 'gpu', 'vllm-cpu': 'cpu', sim: 'sim' } as const;
    const tg = compose.services.thinkgate!;
    expect(tg.profiles).toBeUndefined();
    expect(tg.environment?.THINKGATE_UPSTREAMS).toBe('http://vllm:8000');
    for (const [name, profile] of Object.entries(backends)) {
      const svc = compose.services[name]!;
      expect(svc.profiles).toEqual([profile]);
      expect(svc.healthcheck?.test.length).toBeGreaterThan(0);
      const aliases = Object.values(svc.networks ?? {}).flatMap((n) => n?.aliases ?? []);
      expect(name === 'vllm' || aliases.includes('vllm'), `${name} reachable as vllm`).toBe(true);
      expect(tg.depends_on?.[name]).toEqual({ condition: 'service_healthy', required: false });
    }
    for (const name of ['vllm', 'vllm-cpu']) {
      expect(compose.services[name]!.command).toContain('--enable-prompt-tokens-details');
    }
    expect(tg.read_only).toBe(true);
    expect(tg.tmpfs).toContain('/tmp');
  });

  it('an optional OpenTelemetry Collector (profile tracing) takes OTLP/HTTP on 4318, where the commented endpoint points', () => {
    const col = compose.services['otel-collector']!;
    expect(col.profiles).toEqual(['tracing']);
    const cfgPath = (col.volumes as string[])[0]!.split(':')[0]!;
    const cfg = parse(readFileSync(join(REPO_ROOT, cfgPath), 'utf8')) as { receivers: { otlp: { protocols: { http: { endpoint: string } } } }; service: { pipelines: { traces: { receivers: string[] } } } };
    expect(cfg.receivers.otlp.protocols.http.endpoint).toBe('0.0.0.0:4318');
    expect(cfg.service.pipelines.traces.receivers).toContain('otlp');
    expect(readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8')).toMatch(/# OTEL_EXPORTER_OTLP_ENDPOINT: http:\/\/otel-collector:4318/);
  });

  it('bind-mounts only files that exist in the repository', () => {
    const sources = Object.values(compose.services)
      .flatMap((s) => s.volumes ?? [])
      .map((v) => (typeof v === 'string' ? v.split(':')[0]! : v.source))
      .filter((src) => src.startsWith('./'));
    expect(sources.length).toBeGreaterThan(0);
    for (const src of sources) expect(existsSync(join(REPO_ROOT, src)), src).toBe(true);
  });

  it("thinkgate's mounted config file loads in thinkgate itself", () => {
    const text = readFileSync(join(REPO_ROOT, 'deploy/compose/thinkgate.yaml'), 'utf8');
    const env = compose.services.thinkgate!.environment!;
    const config = loadConfigFromYaml(text, env);
    expect(config.drainTimeoutMs).toBe(30_000);
    expect(config.upstreams.map((u) => u.url)).toEqual(['http://vllm:8000']);
  });

  it('.env selects the GPU stack by default', () => {
    const env = readFileSync(join(REPO_ROOT, '.env'), 'utf8');
    expect(env).toMatch(/^COMPOSE_PROFILES=gpu$/m);
    expect(env).toMatch(/^MODEL=\S+$/m);
  });
});
