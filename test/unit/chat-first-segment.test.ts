/**
 * runs/chat-first-segment.ts without I/O: which engine request a running chat stream answers, what
 * becomes of the stream (used, or closed unused), and how a refused chat call holds back the
 * chat path for the next requests of its kind.
 */
import { describe, expect, it } from 'vitest';
import type { Backend, CompletionEvent, CompletionRequest } from '../../src/engine/backend.js';
import { adopting, CHAT_REFUSAL_SKIPS, noteRefusal, noteTemplate, mayTakeChatPath, type FirstSegment } from '../../src/runs/chat-first-segment.js';
import type { ResolvedProfile } from '../../src/profiles/profile.js';

const sampling = { temperature: 0 };

/** A chat stream already running: its prompt ids, and whether anyone closed it. */
function running(): { first: FirstSegment; closed: () => boolean } {
  let closed = false;
  async function* events(): AsyncGenerator<CompletionEvent, void, undefined> {
    try {
      yield { kind: 'delta', text: 'a', tokenIds: [7], finishReason: null, stopReason: null };
    } finally {
      closed = true;
    }
  }
  const first: FirstSegment = {
    opened: { promptIds: [1, 2, 3], events: events() },
    maxTokens: 16,
    stopTokenIds: [9],
    samplingText: JSON.stringify(sampling),
  };
  return { first, closed: () => closed };
}

const request = (patch: Partial<CompletionRequest> = {}): CompletionRequest => ({
  model: 'm',
  promptIds: [1, 2, 3],
  maxTokens: 16,
  stopTokenIds: [9],
  sampling,
  ...patch,
});

/** A backend whose own streamCompletion records its calls. */
function backend(): { b: Backend; calls: CompletionRequest[] } {
  const calls: CompletionRequest[] = [];
  const b = {
    name: 'http://replica',
    streamCompletion(req: CompletionRequest) {
      calls.push(req);
      return (async function* () {})();
    },
  } as unknown as Backend;
  return { b, calls };
}

describe('adopting', () => {
  it('the engine request the stream answers gets that stream: used, and nothing goes upstream', async () => {
    const { first } = running();
    const { b, calls } = backend();
    const outcomes: string[] = [];
    const a = adopting(b, first, (o) => outcomes.push(o));
    expect(a.streamCompletion(request(), new AbortController().signal)).toBe(first.opened.events);
    await a.release(); // nothing pending any more
    expect(outcomes).toEqual(['used']);
    expect(calls).toEqual([]);
  });

  it.each([
    ['other prompt ids', { promptIds: [1, 2, 4] }],
    ['another max_tokens', { maxTokens: 15 }],
    ['other stop ids', { stopTokenIds: [] }],
    ['stop strings', { stop: ['x'] }],
    ['logprobs', { logprobs: 2 }],
    ['other sampling', { sampling: { temperature: 1 } }],
  ])('%s: the stream is closed unused and the request goes upstream', async (_name, patch) => {
    const { first } = running();
    const { b, calls } = backend();
    const outcomes: string[] = [];
    const a = adopting(b, first, (o) => outcomes.push(o));
    a.streamCompletion(request(patch), new AbortController().signal);
    await a.release();
    expect(outcomes).toEqual(['unused']);
    expect(calls).toHaveLength(1);
    // A generator that never started has nothing to clean up; return() still ends it for good.
    expect((await first.opened.events.next()).done).toBe(true);
  });

  it('a run that ended before asking: release() closes the stream, unused, once', async () => {
    const { first, closed } = running();
    await first.opened.events.next(); // started: its finally must run on close
    const outcomes: string[] = [];
    const a = adopting(backend().b, first, (o) => outcomes.push(o));
    await a.release();
    await a.release();
    expect(outcomes).toEqual(['unused']);
    expect(closed()).toBe(true);
  });
});

describe('a refused chat call holds back its kind', () => {
  const profile = { startIds: [5], endIds: [6] } as unknown as ResolvedProfile;

  it(`the next ${CHAT_REFUSAL_SKIPS} requests of that kind skip the chat path, then it is tried again; other kinds are untouched`, () => {
    const { b } = backend();
    // A prompt that ends in the opening delimiter: the template opens thinking.
    noteTemplate(b, 'kind-a', [1, 2, 5], profile);
    noteTemplate(b, 'kind-b', [1, 2, 5], profile);
    expect(mayTakeChatPath(b, 'kind-a')).toBe(true);
    noteRefusal(b, 'kind-a');
    for (let i = 0; i < CHAT_REFUSAL_SKIPS; i++) expect(mayTakeChatPath(b, 'kind-a')).toBe(false);
    expect(mayTakeChatPath(b, 'kind-a')).toBe(true);
    expect(mayTakeChatPath(b, 'kind-b')).toBe(true);
    // Another replica has its own record.
    expect(mayTakeChatPath(backend().b, 'kind-a')).toBe(false);
  });
});
