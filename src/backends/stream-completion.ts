/**
 * The one streaming loop under every backend's `streamCompletion` (vLLM's /v1/completions,
 * llama-server's /completion): POST the payload, decode SSE, hand each data payload to the
 * protocol's chunk reader, and own the rest the same way for both:
 *
 * - timers: first token and idle (stream-watchdog.ts), re-armed only by chunks that carry token
 *   ids, never by heartbeats; paused while the consumer holds an event (that time is the client's);
 * - errors: an HTTP status before the stream, transport failures, timeouts, a stream that ends
 *   before its final event, all through upstream-errors.ts;
 * - cancellation: the caller's abort, or leaving the loop early, destroys the response body, which
 *   closes the socket; the server sees the disconnect and stops generating;
 * - the keep-alive race: a POST that fails on its socket before any response byte is sent once
 *   more, on a fresh connection to the same replica (its prefix cache is there). vLLM's uvicorn
 *   closes sockets idle for 5 s; when the event loop lags, undici can hand a segment a socket the
 *   server is closing, and for segments after the first that failure used to end a stream the
 *   client had already started reading (issue 14: 207 of 1,024 streams in one bench run).
 *
 * What differs per protocol is the reader (ChunkReader below).
 */
import type { Dispatcher } from 'undici';
import type { CompletionEvent } from '../engine/backend.js';
import { AbortedError, ThinkgateError, UpstreamError, UpstreamTimeoutError } from '../errors.js';
import { readLimited, type VllmHttp } from './http.js';
import { SseDecoder } from './sse.js';
import { StreamWatchdog, type StreamPhase } from './stream-watchdog.js';
import { mapTransportError, mapUpstreamStatus } from './upstream-errors.js';

/**
 * A protocol's reader of one streamed completion. Throws ThinkgateErrors for bad chunks. Its
 * events are the engine's CompletionEvents (vLLM), or the protocol's own when the backend has
 * more to do with them before the engine sees them (llama.cpp: ids it must recover first).
 */
export interface ChunkReader<E = CompletionEvent> {
  /** The events of one SSE data payload. */
  events(data: string): readonly E[];
  /** Token ids read so far: the only progress the timers count. */
  readonly tokens: number;
  /** The server said the completion is whole (a finish reason or a final event). */
  readonly finished: boolean;
  /** End the request now (llama-server stopped at one of our stop ids and generates on). */
  readonly stopNow: boolean;
  /** What to yield once the stream is over (vLLM: its last running usage, when no trailing one came). */
  flush(): readonly E[];
}

export interface StreamTarget {
  http: VllmHttp;
  /** `vLLM`, `llama-server`: for messages. */
  server: string;
  /** `POST /v1/completions`: for messages. */
  what: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  timeouts: { firstTokenMs: number; idleMs: number };
  maxEventChars: number;
  /** What the server sent when it ended without its final event. */
  endedEarly: string;
  /** A one-off connection for the retry after a stale socket (absent: retry on `http.dispatcher`). */
  freshConnection?: () => Dispatcher;
}

/** Socket failures before any response byte: the server never saw or never answered the request. */
const STALE_SOCKET_CODES = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

function isStaleSocket(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && STALE_SOCKET_CODES.has(code);
}

/**
 * `merge`, when given, sees the events of one socket read together before any is yielded
 * (coalesce.ts: the deltas of a read as fewer, larger ones); absent, each event is yielded as read.
 */
export async function* streamCompletionEvents<E = CompletionEvent>(
  target: StreamTarget,
  reader: ChunkReader<E>,
  signal: AbortSignal,
  merge?: (events: readonly E[]) => readonly E[],
): AsyncGenerator<E, void, undefined> {
  if (signal.aborted) throw new AbortedError();
  const ac = new AbortController();
  const watchdog = new StreamWatchdog(target.timeouts.firstTokenMs, target.timeouts.idleMs, () => ac.abort());
  const onAbort = (): void => ac.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  const decoder = new SseDecoder({ maxEventChars: target.maxEventChars });
  let body: Dispatcher.ResponseData['body'] | undefined;
  let fresh: Dispatcher | undefined;
  const post = (dispatcher: Dispatcher): Promise<Dispatcher.ResponseData> =>
    dispatcher.request({
      origin: target.http.origin,
      path: target.http.basePath + target.path,
      method: 'POST',
      headers: target.headers,
      body: target.body,
      signal: ac.signal,
      // Our own first-token and idle timers cover both; undici's would fire with other errors.
      headersTimeout: 0,
      bodyTimeout: 0,
    });
  try {
    let res: Dispatcher.ResponseData;
    try {
      res = await post(target.http.dispatcher);
    } catch (err) {
      if (ac.signal.aborted || !isStaleSocket(err)) throw err;
      fresh = target.freshConnection?.();
      res = await post(fresh ?? target.http.dispatcher);
    }
    body = res.body;
    if (res.statusCode !== 200) throw mapUpstreamStatus(res.statusCode, await readLimited(res.body), target.what);
    for await (const chunk of body as AsyncIterable<Uint8Array>) {
      const before = reader.tokens;
      if (merge === undefined) {
        for (const data of decoder.push(chunk)) {
          for (const ev of reader.events(data)) {
            watchdog.pause();
            yield ev;
            watchdog.resume();
          }
        }
      } else {
        // A bad event later in the read fails the stream only after the good ones before it,
        // as it does unmerged.
        const datas = decoder.push(chunk);
        let i = 0;
        let failure: { err: unknown } | undefined;
        if (reader.tokens === 0) {
          // The stream's first token goes on alone, before the rest of its read is parsed: a
          // read of dozens of events would otherwise hold the client's first token until all
          // of them were parsed and merged (time to first token: docs/performance.md).
          const lead: E[] = [];
          try {
            while (i < datas.length && reader.tokens === 0) for (const ev of reader.events(datas[i++]!)) lead.push(ev);
          } catch (err) {
            failure = { err };
          }
          for (const ev of lead) {
            watchdog.pause();
            yield ev;
            watchdog.resume();
          }
        }
        const read: E[] = [];
        if (failure === undefined) {
          try {
            for (; i < datas.length; i++) for (const ev of reader.events(datas[i]!)) read.push(ev);
          } catch (err) {
            failure = { err };
          }
        }
        for (const ev of read.length > 1 ? merge(read) : read) {
          watchdog.pause();
          yield ev;
          watchdog.resume();
        }
        if (failure !== undefined) throw failure.err;
      }
      if (reader.stopNow) return; // the finally closes the request
      // Only tokens are progress: heartbeats (`{"choices": []}`, empty deltas, bare usage)
      // must not keep the first-token and idle timers alive forever.
      if (reader.tokens > before) watchdog.data();
      // After [DONE] keep reading to the end of the body, so the connection is reused.
    }
    for (const data of decoder.end()) yield* reader.events(data);
  } catch (err) {
    if (signal.aborted) throw new AbortedError();
    // Ours (an HTTP error status, a bad chunk, an error event): always reported.
    if (err instanceof ThinkgateError) throw err;
    // A stall or reset after the server finished the completion loses nothing the engine needs.
    if (decoder.done || reader.finished) {
      yield* reader.flush();
      return;
    }
    if (watchdog.timedOut !== null) throw timeoutError(target, watchdog.timedOut);
    throw mapTransportError(err, target.what, body === undefined ? 'connect' : 'response');
  } finally {
    watchdog.stop();
    signal.removeEventListener('abort', onAbort);
    // Consumer stopped early (break / return()) or we failed: drop the upstream request.
    if (body !== undefined && !body.readableEnded) {
      ac.abort();
      body.destroy();
    }
    // The one-off connection ends with its request.
    if (fresh !== undefined) void fresh.destroy().catch(() => undefined);
  }
  if (!decoder.done && !reader.finished) throw new UpstreamError(target.endedEarly);
  yield* reader.flush();
}

function timeoutError(t: StreamTarget, phase: StreamPhase): UpstreamTimeoutError {
  return phase === 'first token'
    ? new UpstreamTimeoutError(`${t.server} sent no token within ${t.timeouts.firstTokenMs} ms (first token timeout).`)
    : new UpstreamTimeoutError(`${t.server} sent nothing for ${t.timeouts.idleMs} ms mid-stream (idle timeout).`);
}
