/**
 * SIMULATOR: the mid-stream fault modes (faults.ts) as the token-generating routes play them
 * after K tokens, shared by /v1/completions and /inference/v1/generate.
 */
import type { ServerResponse } from 'node:http';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { BROKEN_SSE_BODY, MALFORMED_JSON_EVENT, MALFORMED_SSE_EVENT, type FaultPlan } from './faults.js';
import { untilAborted, type Tracked, type createWriter } from './http-io.js';
import type { SimContext } from './context.js';

/**
 * A streamed response's fault after K tokens. True: the response is over (the caller returns);
 * false: one bad event was written and the stream goes on (malformed-sse, malformed-json).
 */
export async function streamFault(
  ctx: SimContext,
  fault: FaultPlan,
  res: ServerResponse,
  t: Tracked,
  out: ReturnType<typeof createWriter>,
): Promise<boolean> {
  await out.flush();
  if (fault.mode === 'stall-mid-stream') {
    await untilAborted(t.signal);
    return true;
  }
  if (fault.mode === 'close-mid-stream') {
    t.faultClosed();
    // Node 24 holds a response's writes in the response itself until the next tick (Node 20
    // passed them to the socket at once): let them reach the socket first, or destroySoon()
    // closes it with the last events unsent.
    await yieldToLoop();
    res.socket?.destroySoon(); // flush what was sent, then close without the chunked trailer
    return true;
  }
  if (fault.mode === 'broken-sse') {
    // A clean end of the HTTP response (chunked terminator), but no [DONE] and no finish.
    t.faultClosed();
    await out.write(BROKEN_SSE_BODY);
    await out.flush();
    res.end();
    return true;
  }
  if (fault.mode === 'error-event') {
    t.faultClosed();
    const err = { message: 'Simulated engine failure (fault error-event).', type: 'InternalServerError', param: null, code: 500 };
    const payload = ctx.opts.errorFormat === 'nested' ? { error: err } : { object: 'error', ...err };
    await out.write(`data: ${JSON.stringify(payload)}\n\ndata: [DONE]\n\n`);
    await out.flush();
    res.end();
    return true;
  }
  await out.write(fault.mode === 'malformed-json' ? MALFORMED_JSON_EVENT : MALFORMED_SSE_EVENT);
  return false;
}

/** A non-streamed response's fault after K tokens: every mode ends the response. */
export async function jsonFault(fault: FaultPlan, res: ServerResponse, t: Tracked): Promise<void> {
  if (fault.mode === 'stall-mid-stream') return untilAborted(t.signal);
  t.faultClosed();
  if (fault.mode === 'close-mid-stream') return void res.socket?.destroy();
  if (fault.mode === 'error-event') {
    // The server's catch answers it as vLLM does an engine error: 500 in the envelope.
    throw new Error('Simulated engine failure (fault error-event).');
  }
  if (fault.mode === 'broken-sse') {
    res.writeHead(200, { 'content-type': 'text/html' });
    return void res.end(BROKEN_SSE_BODY);
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(fault.mode === 'malformed-json' ? '{"id":"cmpl-garbage","choices":{"text":"x"}}' : '{"id":"cmpl-garbage","choices":[{"text":');
}
