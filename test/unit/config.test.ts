import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  defaultOpenText,
  loadConfig,
  loadConfigFromObject,
  loadConfigFromYaml,
  type Config,
  defaultOf,
  SETTINGS,
} from '../../src/config/index.js';
import { ThinkgateError } from '../../src/errors.js';
import { s1Profile } from '../../src/profiles/s1.js';
import { thinkTagsProfile } from '../../src/profiles/think-tags.js';

const EXAMPLE = fileURLToPath(new URL('../../config.example.yaml', import.meta.url));
const UP = 'http://127.0.0.1:8000';

/** The keys of one file section, in the settings table's order (which is the schema's: config-table.test.ts). */
function keysOf(section: string): string[] {
  return Object.keys(SETTINGS)
    .filter((k) => k.startsWith(`${section}.`))
    .map((k) => k.slice(section.length + 1));
}

/** The problems a config raises ([] when it loads). */
function problemsOf(load: () => unknown): readonly string[] {
  try {
    load();
    return [];
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
}

/** loadConfig with an in-memory file. */
function withFile(yaml: string, env: Record<string, string> = {}): Config {
  return loadConfig({ THINKGATE_CONFIG: '/etc/thinkgate.yaml', ...env }, { readFile: () => yaml });
}

describe('loadConfig: defaults', () => {
  it('with only THINKGATE_UPSTREAMS, every value is its documented default', () => {
    const c = loadConfig({ THINKGATE_UPSTREAMS: UP });
    // The values come from the one settings table (src/config/defaults.ts); config-table.test.ts
    // checks that the README and docs/configuration.md document the same ones.
    const d = defaultOf;
    expect(c.host).toBe(d('server.host'));
    expect(c.port).toBe(d('server.port'));
    expect(c.logLevel).toBe(d('server.log_level'));
    expect(c.apiKeys).toEqual(d('auth.api_keys'));
    expect(c.upstreams).toEqual([{ url: UP }]);
    expect(Object.keys(c.profiles)).toEqual(['think-tags', 's1']);
    expect(c.profiles['think-tags']).toBe(thinkTagsProfile);
    expect(c.profiles['s1']).toBe(s1Profile);
    expect(c.models).toEqual([]);
    expect(c.defaults).toEqual({
      max_thinking_extensions: d('defaults.max_thinking_extensions'),
      thinking_extension: d('defaults.thinking_extension'),
    });
    expect(c.explicitDefaults).toEqual({});
    expect(c.reasoningFields).toEqual(d('response.reasoning_fields'));
    expect(c.limits).toEqual({
      bodyLimitBytes: d('limits.body_limit_bytes'),
      maxUpstreamResponseBytes: d('limits.max_upstream_response_bytes'),
      maxRelayResponseBytes: d('limits.max_relay_response_bytes'),
      maxConcurrentRequests: d('limits.max_concurrent_requests'),
      maxQueue: d('limits.max_queue'),
      queueTimeoutMs: d('limits.queue_timeout_ms'),
      perKeyMaxConcurrent: d('limits.per_key_max_concurrent'),
      maxChoicesPerRequest: d('limits.max_choices_per_request'),
      maxThinkingExtensions: d('limits.max_thinking_extensions'),
      maxSegmentsPerChoice: d('limits.max_segments_per_choice'),
      maxUpstreamBytesPerRequest: d('limits.max_upstream_bytes_per_request'),
    });
    expect(c.routing).toEqual({
      retries: d('routing.retries'),
      retryBackoffMs: d('routing.retry_backoff_ms'),
      affinity: d('routing.affinity'),
      firstSegment: d('routing.first_segment'),
      media: d('routing.media'),
    });
    expect(c.maxTokensPerChunk).toBe(d('response.max_tokens_per_chunk'));
    expect(c.timeouts).toEqual({
      connectMs: d('timeouts.connect_ms'),
      firstTokenMs: d('timeouts.first_token_ms'),
      idleMs: d('timeouts.idle_ms'),
      requestMs: d('timeouts.request_ms'),
    });
    expect(c.health).toEqual({ intervalMs: d('health.interval_ms'), timeoutMs: d('health.timeout_ms') });
    expect(c.drainTimeoutMs).toBe(d('server.drain_timeout_ms'));
    expect(c.sseKeepAliveMs).toBe(d('server.sse_keepalive_ms'));
    expect(c.connections).toEqual({
      requestTimeoutMs: d('server.request_timeout_ms'),
      headersTimeoutMs: d('server.headers_timeout_ms'),
      keepAliveTimeoutMs: d('server.keep_alive_timeout_ms'),
      maxConnections: d('server.max_connections'),
    });
    expect(c.metricsAuth).toBe(d('auth.metrics'));
  });

  it('requires at least one upstream', () => {
    expect(problemsOf(() => loadConfig({}))).toEqual([
      'upstreams: at least one is required (THINKGATE_UPSTREAMS or `upstreams:` in the config file)',
    ]);
    expect(problemsOf(() => withFile('upstreams: []\n'))).toHaveLength(1);
  });
});

describe('loadConfig: file and environment', () => {
  const file = `
server: { host: 127.0.0.1, port: 9000, log_level: debug, drain_timeout_ms: 5000, sse_keepalive_ms: 0 }
auth: { api_keys: [k1, k2] }
upstreams:
  - http://vllm-0:8000/
  - { url: "https://vllm-1:8443", api_key: secret }
limits: { body_limit_bytes: 1024, max_concurrent_requests: 4, max_queue: 0, queue_timeout_ms: 10 }
timeouts: { connect_ms: 1, first_token_ms: 2, idle_ms: 3, request_ms: 4 }
health: { interval_ms: 50, timeout_ms: 20 }
response: { reasoning_fields: [reasoning] }
defaults: { max_thinking_tokens: 100, min_thinking_tokens: 10, max_thinking_extensions: 2, thinking_extension: Hmm }
`;

  it('reads every section of the file', () => {
    const c = withFile(file);
    expect(c).toMatchObject({
      host: '127.0.0.1',
      port: 9000,
      logLevel: 'debug',
      apiKeys: ['k1', 'k2'],
      upstreams: [{ url: 'http://vllm-0:8000' }, { url: 'https://vllm-1:8443', apiKey: 'secret' }],
      limits: { bodyLimitBytes: 1024, maxConcurrentRequests: 4, maxQueue: 0, queueTimeoutMs: 10 },
      timeouts: { connectMs: 1, firstTokenMs: 2, idleMs: 3, requestMs: 4 },
      health: { intervalMs: 50, timeoutMs: 20 },
      reasoningFields: ['reasoning'],
      drainTimeoutMs: 5000,
      sseKeepAliveMs: 0,
      defaults: { max_thinking_tokens: 100, min_thinking_tokens: 10, max_thinking_extensions: 2, thinking_extension: 'Hmm' },
    });
  });

  it('environment variables win over the file', () => {
    const c = withFile(file, {
      THINKGATE_HOST: '::1',
      THINKGATE_PORT: '0',
      THINKGATE_LOG_LEVEL: 'warn',
      THINKGATE_API_KEYS: ' a , b,,',
      THINKGATE_UPSTREAMS: 'http://x:1, http://y:2/',
      THINKGATE_UPSTREAM_API_KEY: 'env-key',
      THINKGATE_BODY_LIMIT_BYTES: '2048',
      THINKGATE_MAX_CONCURRENT: '8',
      THINKGATE_DRAIN_TIMEOUT_MS: '0',
    });
    expect(c).toMatchObject({
      host: '::1',
      port: 0,
      logLevel: 'warn',
      apiKeys: ['a', 'b'],
      upstreams: [
        { url: 'http://x:1', apiKey: 'env-key' },
        { url: 'http://y:2', apiKey: 'env-key' },
      ],
      limits: { bodyLimitBytes: 2048, maxConcurrentRequests: 8, maxQueue: 0 },
      drainTimeoutMs: 0,
    });
  });

  it('THINKGATE_UPSTREAM_API_KEY fills only file upstreams without their own key', () => {
    const c = withFile(file, { THINKGATE_UPSTREAM_API_KEY: 'env-key' });
    expect(c.upstreams).toEqual([
      { url: 'http://vllm-0:8000', apiKey: 'env-key' },
      { url: 'https://vllm-1:8443', apiKey: 'secret' },
    ]);
  });

  it('an empty variable counts as unset (a blank THINKGATE_API_KEYS never opens the gateway)', () => {
    const c = withFile(file, { THINKGATE_API_KEYS: '', THINKGATE_PORT: '  ', THINKGATE_UPSTREAMS: '' });
    expect(c.apiKeys).toEqual(['k1', 'k2']);
    expect(c.port).toBe(9000);
    expect(c.upstreams).toHaveLength(2);
  });

  it.each(['8e3', '0x1f', '-1', '1.5', '80a', '65536', '99999999999999999999'])(
    'THINKGATE_PORT=%s is rejected (strict digits, 0-65535)',
    (v) => {
      expect(problemsOf(() => loadConfig({ THINKGATE_UPSTREAMS: UP, THINKGATE_PORT: v }))).toEqual([
        'THINKGATE_PORT: must be an integer 0-65535',
      ]);
    },
  );

  it('other environment problems are named by variable', () => {
    const problems = problemsOf(() =>
      loadConfig({
        THINKGATE_UPSTREAMS: 'http://ok:1,vllm:8000,http://ok:1/v1',
        THINKGATE_LOG_LEVEL: 'verbose',
        THINKGATE_MAX_CONCURRENT: '0',
        THINKGATE_BODY_LIMIT_BYTES: '1MB',
        THINKGATE_DRAIN_TIMEOUT_MS: '-5',
        THINKGATE_API_KEYS: ',',
      }),
    );
    expect(problems).toEqual([
      'THINKGATE_LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent',
      'THINKGATE_API_KEYS: must list at least one value',
      'THINKGATE_UPSTREAMS[1]: must be an http(s) URL',
      'THINKGATE_UPSTREAMS[2]: must be the vLLM server root, without /v1',
      'THINKGATE_BODY_LIMIT_BYTES: must be an integer >= 1',
      'THINKGATE_MAX_CONCURRENT: must be an integer >= 1',
      'THINKGATE_DRAIN_TIMEOUT_MS: must be an integer 0-2147483647',
    ]);
  });
});

describe('loadConfig: every problem at once', () => {
  it('a config with four different errors reports all four, one per line, with paths', () => {
    const yaml = `
server: { port: 70000 }
upstreams: [{ url: "http://ok:8000" }, { url: "ftp://nope" }]
profiles:
  my-model: { thinking_start: "<m>", forced_close: "</m>", extension: Hmm }
models:
  "*": { profile: foo }
`;
    let err: unknown;
    try {
      withFile(yaml);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect(err).not.toBeInstanceOf(ThinkgateError); // never rendered to a client
    const e = err as ConfigError;
    expect(e.problems).toEqual([
      'server.port: must be an integer 0-65535',
      'upstreams[1].url: must be an http(s) URL',
      'profiles.my-model.thinking_end: required',
      `models["*"].profile: unknown profile 'foo' (known: think-tags, s1, my-model)`,
    ]);
    const lines = e.message.split('\n');
    expect(lines[0]).toContain('/etc/thinkgate.yaml');
    expect(lines.slice(1)).toEqual(e.problems);
  });

  it('file and environment problems are listed together', () => {
    const problems = problemsOf(() => withFile('server: { port: -1 }\nupstreams: [http://a:1]\n', { THINKGATE_PORT: 'x' }));
    expect(problems).toEqual(['server.port: must be an integer 0-65535', 'THINKGATE_PORT: must be an integer 0-65535']);
  });

  it('unknown keys are errors at every level; x- keys are ignored', () => {
    const yaml = `
x-common: &budget { max_thinking_tokens: 100 }
upstreams: [http://a:1]
server: { hots: x, x-note: fine }
sevrer: {}
limits: { max_concurent_requests: 1 }
models:
  "*": { <<: *budget, profile: think-tags, max_thinking_token: 5 }
profiles:
  x-shared: { anything: goes }
  p: { thinking_start: a, thinking_end: b, forced_close: b, extension: w, typo: 1 }
`;
    expect(problemsOf(() => withFile(yaml))).toEqual([
      'sevrer: unknown key (known: server, auth, upstreams, defaults, response, limits, quota, tracing, routing, timeouts, health, profiles, models)',
      `server.hots: unknown key (known: ${keysOf('server').join(', ')})`,
      `limits.max_concurent_requests: unknown key (known: ${keysOf('limits').join(', ')})`,
      'profiles.p.typo: unknown key (known: thinking_start, thinking_end, forced_close, extension, open_text, end_of_turn, reflection_phrases, answer_prefix, early_exit, effort, tool_call_parser)',
      'models["*"].max_thinking_token: unknown key (known: profile, max_thinking_tokens, min_thinking_tokens, max_thinking_extensions, thinking_extension, effort, tool_call_parser)',
    ]);
  });

  it('client connection bounds: defaults, file keys, and a headers deadline past the request deadline', () => {
    expect(loadConfigFromObject({ upstreams: [UP] }).connections).toEqual({
      requestTimeoutMs: defaultOf('server.request_timeout_ms'),
      headersTimeoutMs: defaultOf('server.headers_timeout_ms'),
      keepAliveTimeoutMs: defaultOf('server.keep_alive_timeout_ms'),
      maxConnections: defaultOf('server.max_connections'),
    });
    const c = loadConfigFromObject({
      upstreams: [UP],
      server: { request_timeout_ms: 5000, headers_timeout_ms: 1000, keep_alive_timeout_ms: 10, max_connections: 3 },
      auth: { metrics: 'api_key' },
    });
    expect(c.connections).toEqual({ requestTimeoutMs: 5000, headersTimeoutMs: 1000, keepAliveTimeoutMs: 10, maxConnections: 3 });
    expect(c.metricsAuth).toBe('api_key');
    expect(loadConfigFromObject({ upstreams: [UP] }).metricsAuth).toBe('open');
    expect(problemsOf(() => loadConfigFromObject({ upstreams: [UP], server: { request_timeout_ms: 1000, headers_timeout_ms: 2000 } }))).toEqual([
      'server.headers_timeout_ms: 2000 exceeds server.request_timeout_ms 1000',
    ]);
    expect(problemsOf(() => loadConfigFromObject({ upstreams: [UP], auth: { metrics: 'closed' } }))).toEqual(['auth.metrics: must be open or api_key']);
  });

  it('min > max is a config error in defaults, models and effort presets, also when inherited', () => {
    const problems = problemsOf(() =>
      loadConfigFromObject({
        upstreams: [UP],
        defaults: { max_thinking_tokens: 1000 },
        models: {
          a: { profile: 's1', min_thinking_tokens: 2000 },
          b: { profile: 's1', max_thinking_tokens: 5, min_thinking_tokens: 6 },
          c: { profile: 's1', effort: { high: { max_thinking_tokens: 1, min_thinking_tokens: 2 } } },
        },
        profiles: { s1: { effort: { low: { min_thinking_tokens: 9, max_thinking_tokens: 8 } } } },
      }),
    );
    expect(problems).toEqual([
      'profiles.s1.effort.low.min_thinking_tokens: 9 exceeds max_thinking_tokens 8',
      'models["a"].min_thinking_tokens: 2000 exceeds max_thinking_tokens 1000 (from defaults)',
      'models["b"].min_thinking_tokens: 6 exceeds max_thinking_tokens 5',
      'models["c"].effort.high.min_thinking_tokens: 2 exceeds max_thinking_tokens 1',
    ]);
    expect(
      problemsOf(() => loadConfigFromObject({ upstreams: [UP], defaults: { max_thinking_tokens: 1, min_thinking_tokens: 2 } })),
    ).toEqual(['defaults.min_thinking_tokens: 2 exceeds max_thinking_tokens 1']);
    expect(
      problemsOf(() =>
        loadConfigFromObject({
          upstreams: [UP],
          defaults: { min_thinking_tokens: 50 },
          models: { '*': { profile: 's1', max_thinking_tokens: 10 } },
        }),
      ),
    ).toEqual(['models["*"].max_thinking_tokens: 10 is below min_thinking_tokens 50 (from defaults)']);
  });

  it('value problems: types, ranges, URLs, duplicates, timer overflow', () => {
    const problems = problemsOf(() =>
      loadConfigFromObject({
        upstreams: ['http://a:1', 'http://a:1/', 'http://user:pw@b:1', 'http://c:1/?x=1', 42],
        server: { host: '', log_level: 'loud' },
        auth: { api_keys: 'k' },
        response: { reasoning_fields: [] },
        timeouts: { idle_ms: 2 ** 31, connect_ms: 0, first_token_ms: 1.5, request_ms: '5' },
        defaults: { max_thinking_extensions: -1, thinking_extension: '' },
      }),
    );
    expect(problems).toEqual([
      'server.host: must not be empty',
      'server.log_level: must be one of fatal, error, warn, info, debug, trace, silent',
      'auth.api_keys: must be a list of strings',
      'defaults.max_thinking_extensions: must be an integer >= 0',
      'defaults.thinking_extension: must not be empty',
      'response.reasoning_fields: must name at least one field',
      'timeouts.connect_ms: must be an integer 1-2147483647',
      'timeouts.first_token_ms: must be an integer 1-2147483647',
      'timeouts.idle_ms: must be an integer 1-2147483647',
      'timeouts.request_ms: must be an integer 1-2147483647',
      'upstreams[2].url: must not contain credentials (use api_key)',
      'upstreams[3].url: must not have a query or fragment',
      'upstreams[4]: must be a URL or {url, api_key}',
      'upstreams[1].url: duplicate of upstreams[0].url',
    ]);
  });

  it('a YAML syntax error names the file; env problems still come with it', () => {
    const problems = problemsOf(() => withFile('upstreams: [http://a:1\nserver: {', { THINKGATE_PORT: 'no' }));
    expect(problems.length).toBeGreaterThanOrEqual(2);
    expect(problems[0]).toMatch(/^\/etc\/thinkgate\.yaml: YAML error: .*line \d+, column \d+/);
    expect(problems.at(-1)).toBe('THINKGATE_PORT: must be an integer 0-65535');
    expect(problems.some((p) => p.startsWith('upstreams:'))).toBe(false);
  });

  it('duplicate keys and a non-mapping top level are errors', () => {
    expect(problemsOf(() => withFile('upstreams: [http://a:1]\nupstreams: [http://b:1]\n'))[0]).toMatch(
      /^\/etc\/thinkgate\.yaml: YAML error: Map keys must be unique/,
    );
    expect(problemsOf(() => withFile('- a\n- b\n'))[0]).toBe('/etc/thinkgate.yaml: must be a mapping at the top level');
  });

  it('an unreadable file is a ConfigError naming the file', () => {
    const problems = problemsOf(() => loadConfig({ THINKGATE_CONFIG: '/nonexistent/thinkgate.yaml' }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^THINKGATE_CONFIG: cannot read \/nonexistent\/thinkgate\.yaml: .*ENOENT/);
  });

  it('an empty file is an empty config', () => {
    expect(withFile('', { THINKGATE_UPSTREAMS: UP }).port).toBe(8080);
    expect(withFile('# only comments\n', { THINKGATE_UPSTREAMS: UP }).models).toEqual([]);
  });
});

describe('loadConfig: profiles', () => {
  it('adds operator profiles beside the built-ins, with open_text and effort defaults', () => {
    const c = loadConfigFromObject({
      upstreams: [UP],
      profiles: {
        'my-model': { thinking_start: '<think>', thinking_end: '</think>', forced_close: '\n</think>\n\n', extension: 'Wait' },
        mistral: { thinking_start: '[THINK]', thinking_end: '[/THINK]', forced_close: '[/THINK]', extension: 'Hmm', open_text: '[THINK]\n' },
        glm: { thinking_start: '<|think|>', thinking_end: '<|/think|>', forced_close: '<|/think|>', extension: 'W', effort: { high: { max_thinking_tokens: 9 } } },
      },
    });
    expect(Object.keys(c.profiles)).toEqual(['think-tags', 's1', 'my-model', 'mistral', 'glm']);
    expect(c.profiles['my-model']).toEqual({ ...thinkTagsProfile, name: 'my-model' });
    expect(c.profiles['mistral']?.open_text).toBe('[THINK]\n');
    expect(c.profiles['glm']?.open_text).toBe('<|think|>\n');
    expect(c.profiles['glm']?.effort).toEqual({ ...thinkTagsProfile.effort, high: { max_thinking_tokens: 9 } });
  });

  it('open_text defaults to the start plus a newline only when the start ends with ">"', () => {
    expect(defaultOpenText('<think>')).toBe('<think>\n');
    expect(defaultOpenText('<|im_start|>think')).toBe('<|im_start|>think');
    expect(defaultOpenText('[THINK]')).toBe('[THINK]');
  });

  it('an operator entry named like a built-in overrides it, key by key', () => {
    const c = loadConfigFromObject({
      upstreams: [UP],
      profiles: {
        s1: { extension: 'Hmm', effort: { high: { max_thinking_tokens: 30000 } } },
        'think-tags': { thinking_start: '<reasoning>', thinking_end: '</reasoning>', forced_close: '</reasoning>' },
      },
    });
    expect(c.profiles['s1']).toEqual({ ...s1Profile, extension: 'Hmm', effort: { ...s1Profile.effort, high: { max_thinking_tokens: 30000 } } });
    expect(c.profiles['think-tags']).toMatchObject({ thinking_start: '<reasoning>', open_text: '<reasoning>\n', extension: 'Wait' });
    expect(Object.keys(c.profiles)).toEqual(['think-tags', 's1']);
  });

  it('rejects incomplete or inconsistent profiles and bad names', () => {
    const problems = problemsOf(() =>
      loadConfigFromObject({
        upstreams: [UP],
        profiles: {
          a: { thinking_start: '<a>' },
          b: { thinking_start: '<b>', thinking_end: '<b>', forced_close: '<b>', extension: 'W' },
          c: { thinking_start: '<c>', thinking_end: '</c>', forced_close: '\n\n', extension: 'W' },
          'bad name': {},
          d: 'nope',
        },
        models: { '*': { profile: 'a' } },
      }),
    );
    expect(problems).toEqual([
      'profiles.a.thinking_end: required',
      'profiles.a.forced_close: required',
      'profiles.a.extension: required',
      'profiles.b.thinking_end: must differ from thinking_start',
      'profiles.c.forced_close: must contain thinking_end "</c>"',
      `profiles["bad name"]: a profile name is letters, digits, '.', '_', '-' (starting with a letter or digit)`,
      'profiles.d: must be a mapping',
    ]);
  });
});

describe('loadConfig: models', () => {
  it('a mapping keeps the file order, integer-like globs included', () => {
    const c = withFile(`
upstreams: [http://a:1]
models:
  "simplescaling/s1*": { profile: s1, max_thinking_tokens: 8192 }
  "7": { profile: s1 }
  "*": { profile: think-tags, max_thinking_extensions: 3 }
`);
    expect(c.models).toEqual([
      { pattern: 'simplescaling/s1*', profile: 's1', defaults: { max_thinking_tokens: 8192 } },
      { pattern: '7', profile: 's1', defaults: {} },
      { pattern: '*', profile: 'think-tags', defaults: { max_thinking_extensions: 3 } },
    ]);
  });

  it('a list of {match, ...} is accepted too', () => {
    const c = loadConfigFromObject({
      upstreams: [UP],
      models: [
        { match: 'Qwen/*', profile: 'think-tags', effort: { low: { max_thinking_tokens: 10 } } },
        { match: '*', profile: 's1', thinking_extension: 'Hmm' },
      ],
    });
    expect(c.models).toEqual([
      { pattern: 'Qwen/*', profile: 'think-tags', defaults: {}, effort: { low: { max_thinking_tokens: 10 } } },
      { pattern: '*', profile: 's1', defaults: { thinking_extension: 'Hmm' } },
    ]);
  });

  it('list problems: missing match or profile, duplicates, wrong shape', () => {
    expect(
      problemsOf(() =>
        loadConfigFromObject({
          upstreams: [UP],
          models: [{ profile: 's1' }, { match: '*' }, { match: 'a', profile: 's1' }, { match: 'a', profile: 's1' }],
        }),
      ),
    ).toEqual(['models[0].match: required', 'models[1].profile: required', 'models[3]: duplicate of models[2], which always matches first']);
    expect(problemsOf(() => loadConfigFromObject({ upstreams: [UP], models: 'everything' }))).toEqual([
      'models: must be a mapping of glob -> {profile, ...} or a list of {match, profile, ...}',
    ]);
  });
});

describe('loadConfig: the result', () => {
  it('is deep-frozen: mutation throws in strict mode', () => {
    const c = loadConfig({ THINKGATE_CONFIG: EXAMPLE });
    expect(() => {
      (c as { port: number }).port = 1;
    }).toThrow(TypeError);
    expect(() => (c.upstreams as { url: string }[]).push({ url: 'x' })).toThrow(TypeError);
    expect(() => {
      (c.limits as { maxQueue: number }).maxQueue = 1;
    }).toThrow(TypeError);
    expect(() => {
      (c.models[0]!.defaults as { max_thinking_tokens: number }).max_thinking_tokens = 1;
    }).toThrow(TypeError);
    expect(() => {
      (c.profiles as Record<string, unknown>)['x'] = {};
    }).toThrow(TypeError);
    expect(() => {
      (c.profiles['my-model']!.effort as Record<string, unknown>)['high'] = {};
    }).toThrow(TypeError);
    expect(c.profiles['constructor']).toBeUndefined();
  });

  it('config.example.yaml loads, with its documented values', () => {
    const c = loadConfig({ THINKGATE_CONFIG: EXAMPLE });
    expect(c.upstreams).toEqual([{ url: 'http://127.0.0.1:8000' }]);
    expect(Object.keys(c.profiles)).toEqual(['think-tags', 's1', 'my-model']);
    expect(c.models.map((m) => [m.pattern, m.profile])).toEqual([
      ['simplescaling/s1*', 's1'],
      ['Qwen/QwQ*', 'think-tags'],
      ['*', 'think-tags'],
    ]);
    // Its "defaults" comments are true: the same text with every example section removed gives the same values.
    const bare = loadConfig({ THINKGATE_UPSTREAMS: 'http://127.0.0.1:8000' });
    for (const key of ['host', 'port', 'logLevel', 'apiKeys', 'defaults', 'reasoningFields', 'limits', 'quota', 'namedKeys', 'timeouts', 'health', 'drainTimeoutMs', 'sseKeepAliveMs'] as const) {
      expect(c[key], key).toEqual(bare[key]);
    }
    // ...and it leaves the extension phrase to the profiles, as the bare config does.
    expect(c.explicitDefaults.thinking_extension).toBeUndefined();
    expect(readFileSync(EXAMPLE, 'utf8')).toContain('THINKGATE_UPSTREAMS');
  });

  it('loadConfigFromYaml reads a YAML text like a file', () => {
    expect(loadConfigFromYaml('upstreams: [http://a:1]\nserver: { port: 1 }\n').port).toBe(1);
  });
});

describe('profiles: end_of_turn', () => {
  it('an operator profile may name its end-of-turn markers', () => {
    const cfg = loadConfigFromObject({
      upstreams: ['http://127.0.0.1:8000'],
      profiles: { mine: { thinking_start: '<t>', thinking_end: '</t>', forced_close: '</t>', extension: 'Hmm', end_of_turn: ['<eot>'] } },
    });
    expect(cfg.profiles.mine!.end_of_turn).toEqual(['<eot>']);
    expect(cfg.profiles['think-tags']!.end_of_turn).toBeUndefined(); // the engine's default list applies
  });
});

describe('upstreams[].kind', () => {
  it('selects the server protocol per upstream; absent means vllm', () => {
    const c = withFile(`
upstreams:
  - http://vllm-0:8000
  - { url: "http://llama:8080", kind: llamacpp }
  - { url: "http://vllm-1:8000", kind: vllm, api_key: k }
`);
    expect(c.upstreams).toEqual([
      { url: 'http://vllm-0:8000' },
      { url: 'http://llama:8080', kind: 'llamacpp' },
      { url: 'http://vllm-1:8000', kind: 'vllm', apiKey: 'k' },
    ]);
  });

  it('an unknown kind is a problem with its path, listed with the others', () => {
    expect(problemsOf(() => withFile('upstreams: [{ url: "http://a:1", kind: ollama }, { url: "ftp://b" }]\n'))).toEqual([
      'upstreams[0].kind: must be one of vllm, llamacpp',
      'upstreams[1].url: must be an http(s) URL',
    ]);
  });

  it('THINKGATE_UPSTREAMS entries are vLLM (no kind)', () => {
    const c = loadConfig({ THINKGATE_UPSTREAMS: 'http://a:1,http://b:2' });
    expect(c.upstreams.map((u) => u.kind ?? 'vllm')).toEqual(['vllm', 'vllm']);
  });
});

describe('routing and per-key limits', () => {
  it('reads routing and per-key limits, and reports bad values', () => {
    const cfg = loadConfigFromObject({
      upstreams: ['http://127.0.0.1:8000'],
      routing: { retries: 0, retry_backoff_ms: 50, affinity: 'prefix', first_segment: 'chat', media: 'refuse' },
      limits: { per_key_max_concurrent: 4 },
    });
    expect(cfg.routing).toEqual({ retries: 0, retryBackoffMs: 50, affinity: 'prefix', firstSegment: 'chat', media: 'refuse' });
    expect(cfg.limits.perKeyMaxConcurrent).toBe(4);
    expect(() => loadConfigFromObject({ upstreams: ['http://127.0.0.1:8000'], routing: { retries: 99, affinity: 'sticky', first_segment: 'x' } })).toThrow(
      /routing\.retries: must be an integer 0-10\nrouting\.affinity: must be none or prefix\nrouting\.first_segment: must be tokenize or chat/,
    );
  });
});

describe('tool_call_parser (docs/configuration.md)', () => {
  it('a profile names one; a model entry overrides it; unknown names are problems', async () => {
    const { createProfileRegistry } = await import('../../src/profiles/registry.js');
    const config = loadConfigFromObject({
      upstreams: ['http://x'],
      profiles: { r1: { thinking_start: '<think>', thinking_end: '</think>', forced_close: '\n</think>\n\n', extension: 'Wait', tool_call_parser: 'deepseek_v3' } },
      models: { 'Qwen/*': { profile: 'think-tags', tool_call_parser: 'hermes' }, 'deepseek/*': { profile: 'r1' }, '*': { profile: 'think-tags' } },
    }, {});
    const registry = createProfileRegistry(config);
    expect(registry.policyFor('Qwen/Qwen3-8B').toolCallParser).toBe('hermes');
    expect(registry.policyFor('deepseek/R1').toolCallParser).toBe('deepseek_v3');
    expect(registry.policyFor('other').toolCallParser).toBeUndefined();
    let err: unknown;
    try {
      loadConfigFromObject({ upstreams: ['http://x'], models: { '*': { profile: 'think-tags', tool_call_parser: 'qwen9' } } }, {});
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems.join('\n')).toMatch(/tool_call_parser.*must be one of hermes, deepseek_v3, llama3_json/);
  });
});
