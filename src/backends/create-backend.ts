/**
 * One upstream entry of the config -> the Backend that speaks its protocol. The engine sees only
 * the Backend port, so a second server kind (llama.cpp's llama-server) is a second case here,
 * never a branch in the engine.
 */
import { defaultOf, type Config, type UpstreamConfig } from '../config/index.js';
import type { PooledBackend } from '../replicas/upstream-pool.js';
import { VllmBackend } from './vllm/client.js';
import { LlamaCppBackend } from './llamacpp/client.js';

export function createBackend(upstream: UpstreamConfig, config: Config): PooledBackend {
  const opts = {
    baseUrl: upstream.url,
    timeouts: { ...config.timeouts, healthMs: config.health.timeoutMs },
    maxResponseBytes: config.limits.maxUpstreamResponseBytes,
    maxRelayResponseBytes: config.limits.maxRelayResponseBytes,
    pool: {
      keepAliveTimeoutMs: upstream.keepAliveTimeoutMs ?? defaultOf('upstreams[].keep_alive_timeout_ms'),
      maxConnections: upstream.maxConnections ?? defaultOf('upstreams[].max_connections'),
    },
    ...(upstream.apiKey ? { apiKey: upstream.apiKey } : {}),
  };
  switch (upstream.kind ?? defaultOf('upstreams[].kind')) {
    case 'llamacpp':
      return new LlamaCppBackend(opts);
    case 'vllm':
      return new VllmBackend(opts);
  }
}
