/**
 * What one request may send upstream, all its segments and choices together
 * (`limits.max_upstream_bytes_per_request`). Issue 11 item 4: an unknown 7.9 MB field with
 * `n: 128` went into every segment of every choice, about 2 GB sent upstream for an 8 MB body.
 * Unknown fields still pass through (sampling.ts: vLLM's extras); what they cost is bounded.
 *
 * A segment is counted as the JSON of its sampling fields, its prompt ids and its stop strings
 * (answer segments only; 120k of them fit in a body) - the payload's bulk; the fixed protocol
 * fields are a constant on top. Three checks, as early as each is
 * predictable: the sampling part x runs before admission (checkSamplingBytes), the first
 * segment of every run once the prompts are tokenized (checkFirstSegments), and every segment
 * as it starts (meteredBackend), which fails the request with a stable 400 once the total is
 * past the limit (after the first byte, an SSE error event).
 */
import type { Backend, CompletionRequest } from '../engine/backend.js';
import type { EngineInput } from '../engine/types.js';
import { InvalidRequestError } from '../errors.js';
import { withStreamCompletion } from './stream-wrapper.js';

/** The protocol fields of a streamed payload, beside the sampling part and the ids. */
const PROTOCOL_BYTES = 512;
const CODE = 'upstream_bytes_exceeded';

/** Bytes of `[1,22,333]` without building the string. */
export function idsBytes(ids: readonly number[]): number {
  let n = 2 + Math.max(0, ids.length - 1);
  for (const id of ids) n += id < 10 ? 1 : id < 100 ? 2 : id < 1000 ? 3 : id < 10_000 ? 4 : id < 100_000 ? 5 : String(id).length;
  return n;
}

/** JSON sizes per object: every segment of a request carries the same sampling and stop objects. */
export class SamplingSizes {
  private readonly sizes = new WeakMap<object, number>();
  of(value: object): number {
    let n = this.sizes.get(value);
    if (n === undefined) {
      n = Buffer.byteLength(JSON.stringify(value));
      this.sizes.set(value, n);
    }
    return n;
  }
}

function tooLarge(what: string, bytes: number, limit: number, param: string | null): InvalidRequestError {
  return new InvalidRequestError(
    `This request would send about ${bytes} bytes upstream (${what}); this server allows at most ${limit} per request.`,
    { param, code: CODE },
  );
}

/**
 * Before admission: the sampling fields go into every segment of every run, so runs x their size
 * (at least one segment each) must fit. Names the largest field, the one to shrink.
 */
export function checkSamplingBytes(sampling: Record<string, unknown>, runs: number, limit: number): void {
  const size = Buffer.byteLength(JSON.stringify(sampling));
  const total = size * runs;
  if (total <= limit) return;
  let param: string | null = null;
  let biggest = -1;
  for (const [k, v] of Object.entries(sampling)) {
    const s = JSON.stringify(v)?.length ?? 0;
    if (s > biggest) [biggest, param] = [s, k];
  }
  throw tooLarge(`${size} bytes of sampling and extra fields in each of ${runs} run${runs === 1 ? '' : 's'}`, total, limit, param);
}

export class UpstreamAllowance {
  private spent = 0;
  private readonly sizes = new SamplingSizes();

  constructor(readonly limit: number) {}

  segmentBytes(req: Pick<CompletionRequest, 'sampling' | 'promptIds' | 'stop'>): number {
    const stop = req.stop === undefined || req.stop.length === 0 ? 0 : this.sizes.of(req.stop);
    return this.sizes.of(req.sampling) + idsBytes(req.promptIds) + stop + PROTOCOL_BYTES;
  }

  /** Before the first generation call: every run's first segment must fit (each with `extra` bytes: a media prompt's). */
  checkFirstSegments(inputs: readonly EngineInput[], extra = 0): void {
    let total = 0;
    for (const i of inputs) total += this.segmentBytes(i) + extra;
    if (total > this.limit) {
      throw tooLarge(`the first segment of ${inputs.length} run${inputs.length === 1 ? '' : 's'}`, total, this.limit, inputs.length > 1 ? 'n' : null);
    }
  }

  spend(bytes: number): void {
    this.spent += bytes;
    if (this.spent > this.limit) {
      throw tooLarge('the segments it has needed so far', this.spent, this.limit, null);
    }
  }
}

/** The backend, with every streamed segment counted against `allowance` before it is sent. */
export function meteredBackend(backend: Backend, allowance: UpstreamAllowance): Backend {
  return withStreamCompletion(backend, (req, signal) => {
    allowance.spend(allowance.segmentBytes(req));
    return backend.streamCompletion(req, signal);
  });
}
