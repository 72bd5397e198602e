/**
 * How a request that failed on one replica before its first byte is tried on another
 * (config `routing.retries`, `routing.retry_backoff_ms`; README "Retries").
 */
import { ServiceUnavailableError, UpstreamError, UpstreamTimeoutError } from '../errors.js';

export interface RetryPolicy {
  /** Further attempts after the first. */
  retries: number;
  /** Backoff before retry k (0-based) is base * 2^k, with full jitter. */
  backoffMs: number;
}

/**
 * Failures of the replica, not of the request: another replica may well succeed. Timeouts are
 * not retried, except on connect: a replica that took first_token_ms to say nothing would make
 * every retry wait as long again (the client's own timeout is the better judge).
 */
export function isRetryable(err: unknown): boolean {
  if (err instanceof UpstreamTimeoutError) return err.code === 'upstream_connect_timeout';
  return err instanceof UpstreamError || err instanceof ServiceUnavailableError;
}
