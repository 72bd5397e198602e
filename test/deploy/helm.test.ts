/**
 * Template assertions on helm/thinkgate (helm-unittest style, run on `helm template` output):
 * probes, security context, drain settings, optional features, values.schema.json. kubeconform
 * checks the same renders against the Kubernetes schemas in .ci/deploy.sh; this file checks
 * what a schema cannot: that the values mean what the chart promises.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { loadConfigFromYaml } from '../../src/config/index.js';
import { REPO_ROOT, findTool, requireTool, skipWithout } from './tools.js';

const CHART = join(REPO_ROOT, 'helm/thinkgate');
const helmPath = findTool('helm');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = { kind: string; apiVersion: string; metadata: { name: string; labels?: Record<string, string> }; [k: string]: any };

function render(...args: string[]): Doc[] {
  const out = execFileSync(requireTool(helmPath, 'helm'), ['template', 'thinkgate', CHART, '--namespace', 'llm', '--kube-version', '1.33.0', ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return parseAllDocuments(out)
    .map((d) => d.toJS() as Doc | null)
    .filter((d): d is Doc => d !== null);
}

function renderError(...args: string[]): string {
  try {
    render(...args);
  } catch (err) {
    return String((err as { stderr?: string }).stderr ?? err);
  }
  throw new Error(`helm template ${args.join(' ')} succeeded; expected a failure`);
}

const one = (docs: Doc[], kind: string, name = 'thinkgate'): Doc => {
  const found = docs.filter((d) => d.kind === kind && d.metadata.name === name);
  expect(found, `${kind}/${name}`).toHaveLength(1);
  return found[0]!;
};
const container = (docs: Doc[]) => one(docs, 'Deployment').spec.template.spec.containers[0];

describe('helm chart files', () => {
  it('ships byte-identical copies of deploy/ rules and dashboard', () => {
    const same = (a: string, b: string) =>
      expect(readFileSync(join(REPO_ROOT, a), 'utf8'), `${b} must equal ${a}`).toBe(readFileSync(join(REPO_ROOT, b), 'utf8'));
    same('deploy/prometheus/rules/thinkgate.rules.yml', 'helm/thinkgate/files/thinkgate.rules.yml');
    same('deploy/grafana/dashboards/thinkgate.json', 'helm/thinkgate/files/thinkgate-dashboard.json');
  });
});

describe.skipIf(skipWithout(helmPath))('helm template', () => {
  let defaults: Doc[];
  let allOn: Doc[];
  beforeAll(() => {
    defaults = render();
    allOn = render('-f', join(CHART, 'ci/all-on-values.yaml'));
  });

  it('renders only the core objects by default', () => {
    expect(defaults.map((d) => d.kind).sort()).toEqual(['ConfigMap', 'Deployment', 'PodDisruptionBudget', 'Service', 'ServiceAccount']);
  });

  it('probes: startup and liveness on /health (never upstreams), readiness on /ready', () => {
    const c = container(defaults);
    expect(c.startupProbe.httpGet).toEqual({ path: '/health', port: 'http' });
    expect(c.livenessProbe.httpGet).toEqual({ path: '/health', port: 'http' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/ready', port: 'http' });
  });

  it('security: non-root, read-only root with a /tmp emptyDir, no capabilities, RuntimeDefault seccomp', () => {
    const pod = one(defaults, 'Deployment').spec.template.spec;
    const c = pod.containers[0];
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } });
    expect(c.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(c.volumeMounts).toContainEqual({ name: 'tmp', mountPath: '/tmp' });
    expect(pod.volumes).toContainEqual({ name: 'tmp', emptyDir: { sizeLimit: '64Mi' } });
    expect(pod.automountServiceAccountToken).toBe(false);
  });

  it('drain: grace period = preStop + drain deadline + margin, and the gateway gets the same deadline', () => {
    const pod = one(defaults, 'Deployment').spec.template.spec;
    expect(pod.terminationGracePeriodSeconds).toBe(10 + 300 + 15);
    expect(pod.containers[0].lifecycle.preStop.exec.command).toEqual(['sleep', '10']);
    expect(one(defaults, 'ConfigMap').data.THINKGATE_DRAIN_TIMEOUT_MS).toBe('300000');
    const custom = render('--set', 'lifecycle.preStopSleepSeconds=3', '--set', 'lifecycle.drainTimeoutSeconds=60', '--set', 'lifecycle.terminationMarginSeconds=7');
    expect(one(custom, 'Deployment').spec.template.spec.terminationGracePeriodSeconds).toBe(70);
    expect(one(custom, 'ConfigMap').data.THINKGATE_DRAIN_TIMEOUT_MS).toBe('60000');
    const keda = render('-f', join(CHART, 'ci/keda-values.yaml'));
    expect(one(keda, 'Deployment').spec.template.spec.terminationGracePeriodSeconds).toBe(400);
    // Rollouts bring new pods up before old ones drain.
    expect(one(defaults, 'Deployment').spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
  });

  it('upstreams and config reach the container', () => {
    const cm = one(allOn, 'ConfigMap');
    expect(cm.data.THINKGATE_UPSTREAMS).toBe('http://vllm-0.vllm:8000,http://vllm-1.vllm:8000');
    expect(cm.data.THINKGATE_CONFIG).toBe('/etc/thinkgate/config.yaml');
    const file = one(allOn, 'ConfigMap', 'thinkgate-config').data['config.yaml'];
    expect(file).toContain('simplescaling/s1*');
    expect(container(allOn).volumeMounts).toContainEqual({ name: 'config', mountPath: '/etc/thinkgate', readOnly: true });
    expect(one(defaults, 'ConfigMap').data.THINKGATE_CONFIG).toBeUndefined();
  });

  it('the rendered config file and environment load in thinkgate itself', () => {
    for (const docs of [allOn, render('-f', join(CHART, 'ci/keda-values.yaml'))]) {
      const env = one(docs, 'ConfigMap').data as Record<string, string>;
      const config = loadConfigFromYaml(one(docs, 'ConfigMap', 'thinkgate-config').data['config.yaml'], env);
      expect(config.drainTimeoutMs).toBe(300_000);
      expect(config.port).toBe(8080);
    }
    expect(() => loadConfigFromYaml('models: 3\n', one(allOn, 'ConfigMap').data)).toThrow();
  });

  it('image: registry/repository:tag@digest', () => {
    expect(container(defaults).image).toBe('thinkgate:0.1.0');
    expect(container(allOn).image).toBe(`registry.example.com/ml/thinkgate:0.1.0@sha256:${'0'.repeat(64)}`);
  });

  it('API keys from a created Secret or an existing one', () => {
    const secret = one(allOn, 'Secret', 'thinkgate-api-keys');
    expect(Buffer.from(secret.data['api-keys'], 'base64').toString()).toBe('key-one,key-two');
    expect(container(allOn).env).toContainEqual({
      name: 'THINKGATE_API_KEYS',
      valueFrom: { secretKeyRef: { name: 'thinkgate-api-keys', key: 'api-keys' } },
    });
    const keda = render('-f', join(CHART, 'ci/keda-values.yaml'));
    expect(keda.some((d) => d.kind === 'Secret')).toBe(false);
    expect(container(keda).env).toContainEqual({
      name: 'THINKGATE_API_KEYS',
      valueFrom: { secretKeyRef: { name: 'my-keys', key: 'keys' } },
    });
    expect(container(defaults).env).toBeUndefined();
  });

  it('the quota Redis URL from a value or an existing Secret (issue 17)', () => {
    expect(container(allOn).env).toContainEqual({ name: 'THINKGATE_QUOTA_REDIS_URL', value: 'redis://redis-master.redis:6379/0' });
    const fromSecret = render('--set', 'quota.existingSecret=redis-auth');
    expect(container(fromSecret).env).toContainEqual({
      name: 'THINKGATE_QUOTA_REDIS_URL',
      valueFrom: { secretKeyRef: { name: 'redis-auth', key: 'redis-url' } },
    });
  });

  it('tracing: the OTEL_* variables from tracing values, none by default (issue 17)', () => {
    expect(container(allOn).env).toEqual(
      expect.arrayContaining([
        { name: 'OTEL_EXPORTER_OTLP_ENDPOINT', value: 'http://otel-collector.observability:4318' },
        { name: 'OTEL_SERVICE_NAME', value: 'thinkgate-eu' },
        { name: 'OTEL_TRACES_SAMPLER', value: 'parentbased_traceidratio' },
        { name: 'OTEL_TRACES_SAMPLER_ARG', value: '0.25' },
      ]),
    );
    const only = render('--set', 'tracing.otlpEndpoint=http://collector:4318');
    expect(container(only).env).toEqual([{ name: 'OTEL_EXPORTER_OTLP_ENDPOINT', value: 'http://collector:4318' }]);
    expect(JSON.stringify(container(defaults))).not.toContain('OTEL_');
    expect(renderError('--set', 'tracing.otlpEndpoint=collector:4318')).toMatch(/otlpEndpoint/);
    expect(renderError('--set', 'tracing.sampler=sometimes')).toMatch(/sampler/);
  });

  it('every optional feature renders when enabled', () => {
    const kinds = allOn.map((d) => d.kind).sort();
    expect(kinds).toEqual(
      [
        'ConfigMap', 'ConfigMap', 'ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'NetworkPolicy',
        'PodDisruptionBudget', 'PrometheusRule', 'Secret', 'Service', 'ServiceAccount', 'ServiceMonitor',
      ].sort(),
    );
    const hpa = one(allOn, 'HorizontalPodAutoscaler');
    expect(hpa.spec.metrics.map((m: { type: string }) => m.type)).toEqual(['Resource', 'Pods']);
    expect(hpa.spec.metrics[1].pods.metric.name).toBe('thinkgate_inflight_requests');
    expect(one(allOn, 'Deployment').spec.replicas).toBeUndefined(); // the HPA owns replicas
    const rule = one(allOn, 'PrometheusRule');
    expect(rule.spec.groups[0].rules.map((r: { alert: string }) => r.alert)).toContain('ThinkgateUpstreamDown');
    const dash = one(allOn, 'ConfigMap', 'thinkgate-dashboard');
    expect(dash.metadata.labels?.grafana_dashboard).toBe('1');
    expect(JSON.parse(dash.data['thinkgate.json']).uid).toBe('thinkgate-ttc');
    const np = one(allOn, 'NetworkPolicy');
    expect(np.spec.egress.flatMap((e: { ports: Array<{ port: number }> }) => e.ports.map((p) => p.port))).toEqual([53, 53, 8000, 4318]);
    expect(np.spec.egress[2].to[0].namespaceSelector.matchLabels['kubernetes.io/metadata.name']).toBe('observability');
    expect(one(allOn, 'ServiceMonitor').spec.endpoints[0]).toMatchObject({ port: 'http', path: '/metrics' });
  });

  it('KEDA: a ScaledObject on in-flight requests instead of an HPA', () => {
    const keda = render('-f', join(CHART, 'ci/keda-values.yaml'));
    expect(keda.some((d) => d.kind === 'HorizontalPodAutoscaler')).toBe(false);
    const so = one(keda, 'ScaledObject');
    expect(so.spec.triggers[0].metadata.query).toBe('sum(thinkgate_inflight_requests{namespace="llm", service="thinkgate"})');
    expect(renderError('--set', 'keda.enabled=true', '--set', 'autoscaling.enabled=true')).toMatch(/enable one/);
  });

  it('values.schema.json rejects unsafe or malformed values', () => {
    expect(renderError('--set', 'securityContext.readOnlyRootFilesystem=false')).toMatch(/readOnlyRootFilesystem/);
    expect(renderError('--set', 'podSecurityContext.runAsNonRoot=false')).toMatch(/runAsNonRoot/);
    expect(renderError('--set', 'upstreams=vllm:8000')).toMatch(/upstreams/);
    expect(renderError('--set', 'image.digest=latest')).toMatch(/digest/);
    expect(renderError('--set', 'replicaCont=3')).toMatch(/replicaCont/);
  });
});
