/**
 * A scripted llama-server for tests: a toy vocabulary, the `/completion` stream as llama-server
 * 0.4.0-dev (commit 80fb11a) writes it for a given sequence of sampled tokens, and its
 * `/tokenize` with `with_pieces`. The stream follows tools/server/server-context.cpp,
 * process_token: a token after which the text ends inside a character (validate_utf8) is not
 * sent; the next token whose text completes it is sent with all the text since the last send and
 * only its own id; `tokens_predicted` counts every token. At n_predict the final `limit` event
 * comes, with empty content and tokens (stream mode), whatever was not sent is lost.
 */

/** A vocabulary of byte pieces: byte tokens `<0xXX>` at BYTE_BASE + byte, the rest as added. */
export class ToyVocab {
  static readonly BYTE_BASE = 100;
  static readonly EOS = 1;
  private readonly pieces = new Map<number, Uint8Array>();
  private readonly ids = new Map<string, number>();
  private next = 1000;

  constructor(texts: readonly (string | Uint8Array)[] = []) {
    for (let b = 0; b < 256; b++) this.set(ToyVocab.BYTE_BASE + b, Uint8Array.of(b));
    this.set(ToyVocab.EOS, new TextEncoder().encode('<eos>'));
    for (const t of texts) this.add(t);
  }

  private set(id: number, piece: Uint8Array): void {
    this.pieces.set(id, piece);
    if (id !== ToyVocab.EOS) this.ids.set(hex(piece), id);
  }

  /** The id of a piece (a string, or bytes), added when new. */
  add(piece: string | Uint8Array): number {
    const bytes = typeof piece === 'string' ? new TextEncoder().encode(piece) : piece;
    const known = this.ids.get(hex(bytes));
    if (known !== undefined) return known;
    const id = this.next++;
    this.set(id, bytes);
    return id;
  }

  has(id: number): boolean {
    return this.pieces.has(id);
  }

  piece(id: number): Uint8Array {
    const p = this.pieces.get(id);
    if (p === undefined) throw new Error(`no token ${id}`);
    return p;
  }

  /** Greedy longest match over the vocabulary, byte tokens as the fallback: the toy's "own split". */
  tokenize(text: string): number[] {
    const bytes = new TextEncoder().encode(text);
    const out: number[] = [];
    let at = 0;
    while (at < bytes.length) {
      let best = ToyVocab.BYTE_BASE + bytes[at]!;
      let bestLen = 1;
      for (const [key, id] of this.ids) {
        const len = key.length / 2;
        if (len > bestLen && at + len <= bytes.length && hex(bytes.subarray(at, at + len)) === key) {
          best = id;
          bestLen = len;
        }
      }
      out.push(best);
      at += bestLen;
    }
    return out;
  }

  /** /tokenize with_pieces: `{tokens: [{id, piece}]}`, the piece a string when valid UTF-8, else its bytes. */
  withPieces(content: string | number[]): { tokens: Array<{ id: number; piece: string | number[] }> } {
    const ids = typeof content === 'string' ? this.tokenize(content) : content;
    return { tokens: ids.map((id) => ({ id, piece: pieceJson(this.piece(id)) })) };
  }
}

export function pieceJson(piece: Uint8Array): string | number[] {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(piece);
  } catch {
    return [...piece];
  }
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

/** llama-server's validate_utf8: the text ends inside a character. */
function incomplete(bytes: Uint8Array): boolean {
  const len = bytes.length;
  for (let i = 1; i <= 4 && i <= len; i++) {
    const c = bytes[len - i]!;
    if ((c & 0xe0) === 0xc0 && i < 2) return true;
    if ((c & 0xf0) === 0xe0 && i < 3) return true;
    if ((c & 0xf8) === 0xf0 && i < 4) return true;
  }
  return false;
}

export interface StreamScript {
  /** The sampled ids, in order. */
  ids: readonly number[];
  /** llama-server's n_predict (what the backend asked for). */
  nPredict: number;
  /** EOS ends generation after it is streamed (final `eos`). */
  eos?: number;
  promptTokens?: number;
}

/** The `data:` payloads llama-server streams for these sampled ids. */
export function llamaStream(vocab: ToyVocab, s: StreamScript): string[] {
  const out: string[] = [];
  const prompt = s.promptTokens ?? 10;
  let generated = new Uint8Array(0);
  let sent = 0;
  let n = 0;
  let stopType = 'limit';
  for (const id of s.ids) {
    if (n >= s.nPredict) break;
    n++;
    // The EOS token's text is not rendered (no --special).
    const piece = id === s.eos ? new Uint8Array(0) : vocab.piece(id);
    const next = new Uint8Array(generated.length + piece.length);
    next.set(generated);
    next.set(piece, generated.length);
    generated = next;
    if (!incomplete(generated)) {
      // JSON.stringify of a string decoded leniently: invalid bytes become U+FFFD, as nlohmann's
      // dump with error_handler_t::replace writes them.
      const content = new TextDecoder().decode(generated.subarray(sent));
      sent = generated.length;
      out.push(JSON.stringify({ index: 0, content, tokens: [id], stop: false, id_slot: 0, tokens_predicted: n, tokens_evaluated: prompt, timings: { cache_n: 0 } }));
    }
    if (id === s.eos) {
      stopType = 'eos';
      break;
    }
  }
  out.push(JSON.stringify({ index: 0, content: '', tokens: [], stop: true, stop_type: stopType, stopping_word: '', tokens_predicted: n, tokens_evaluated: prompt, timings: { cache_n: 0 } }));
  return out;
}

/** The bytes of these ids' pieces, joined. */
export function bytesOf(vocab: ToyVocab, ids: readonly number[]): Uint8Array {
  const parts = ids.map((id) => vocab.piece(id));
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
