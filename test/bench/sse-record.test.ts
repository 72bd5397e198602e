import { describe, expect, it } from 'vitest';
import { SseRecorder } from '../../bench/sse-record.js';

const chunk = (delta: Record<string, string>, extra: Record<string, unknown> = {}): string =>
  `data: ${JSON.stringify({ choices: [{ index: 0, delta }], ...extra })}\n\n`;

describe('SseRecorder', () => {
  it('times first token, first answer token and gaps, split at any byte', () => {
    const text =
      chunk({ role: 'assistant', content: '' }) +
      chunk({ reasoning_content: 'Let', reasoning: 'Let' }) +
      chunk({ reasoning_content: ' me', reasoning: ' me' }) +
      chunk({ content: 'The' }) +
      `data: ${JSON.stringify({ choices: [], usage: { completion_tokens: 9 }, budget_forcing: { thinking_tokens: 2, extensions: 1, truncated: true, segments: 3 } })}\n\n` +
      'data: [DONE]\n\n';
    for (let split = 0; split <= text.length; split += 7) {
      const r = new SseRecorder(100);
      r.push(text.slice(0, split), 110);
      r.push(text.slice(split), 120);
      const rec = r.finish(130);
      expect(rec.ok).toBe(true);
      expect(rec.tokenChunks).toBe(3);
      expect(rec.completionTokens).toBe(9);
      expect(rec.budgetForcing).toEqual({ thinking_tokens: 2, extensions: 1, truncated: true, segments: 3 });
      expect(rec.gapsMs).toHaveLength(2);
      expect(rec.durationMs).toBe(30);
      expect([10, 20]).toContain(rec.ttftMs);
      expect(rec.ttfaMs! >= rec.ttftMs!).toBe(true);
    }
  });

  it('accepts CRLF framing and data: without a space', () => {
    const r = new SseRecorder(0);
    r.push('data:{"choices":[{"delta":{"content":"x"}}]}\r\n\r\ndata: [DONE]\r\n\r\n', 5);
    const rec = r.finish(6);
    expect(rec).toMatchObject({ ok: true, tokenChunks: 1, ttftMs: 5, ttfaMs: 5, completionTokens: null });
  });

  it('reports a missing [DONE], an error event and a transport failure', () => {
    const a = new SseRecorder(0);
    a.push(chunk({ content: 'x' }), 1);
    expect(a.finish(2)).toMatchObject({ ok: false, error: 'stream ended without data: [DONE]' });
    const b = new SseRecorder(0);
    b.push('data: {"error":{"message":"boom"}}\n\n', 1);
    expect(b.finish(2).error).toBe('error event: boom');
    const c = new SseRecorder(0);
    expect(c.finish(2, 'ECONNRESET').error).toBe('ECONNRESET');
  });
});
