/**
 * Recovers the token ids llama-server withheld inside a multi-byte character (chunk-reader.ts
 * says why and how many), so the engine still gets every generated id, in order (budgets are
 * counted in ids: docs/budget-forcing.md).
 *
 * What is known when the character completes: the event's text S (the withheld tokens' bytes, then
 * the completing token's, possibly after text llama-server held back for a stop string), the id of
 * the completing token, and how many ids came before it unseen (k). llama-server's tokenizer
 * tells the rest through `POST /tokenize` with `with_pieces: true`, which answers each id with
 * its piece: a string, or its bytes when the piece is not valid UTF-8 (server-context.cpp,
 * post_tokenize). Two explanations are tried, and one is taken only when it checks out:
 *
 * 1. The tokenizer's own split of S (a model samples the tokenizer's splits almost always). Its
 *    last k+1 tokens must end with the id that was sent, their pieces must be the last bytes of S,
 *    and each of the k must leave the text inside a character, as llama-server's validate_utf8
 *    saw it (that is why it was withheld).
 * 2. Byte-fallback tokens (SentencePiece vocabularies: Gemma, Llama 2, Mistral): a model may spell
 *    a character it has a token for in bytes, or have no token for it. Then every withheld id is
 *    one byte's token, and byte tokens are one contiguous block `<0x00>`..`<0xFF>` that the sent
 *    (last-byte) id places. The guess is asked back through /tokenize (ids in, pieces out) and kept
 *    only when each id's piece is exactly its byte.
 *
 * Neither: UpstreamError, never a guess (text that llama-server replaced with U+FFFD because the
 * model wrote invalid UTF-8 matches no pieces, so it ends here too).
 */
import { AbortedError, UpstreamError } from '../../errors.js';
import { endsInsideCharacter } from './utf8.js';

/** An id with its piece's bytes, as llama-server's /tokenize with_pieces gives them. */
export interface TokenPiece {
  id: number;
  piece: Uint8Array;
}

/** /tokenize with_pieces: text (tokenized without special-token parsing) or ids (pieces only). */
export type PieceSource = (content: string | readonly number[], signal: AbortSignal) => Promise<TokenPiece[]>;

/** A token event with its withheld ids recovered: `ids` are all of them, and each id's piece is known. */
export interface RecoveredTokens {
  text: string;
  ids: number[];
  /** S's bytes before the first recovered id (text llama-server held back for a stop string, sent with earlier ids). */
  lead: Uint8Array;
  /** One piece per id of `ids`. */
  pieces: Uint8Array[];
}

/**
 * Text llama-server may hold before a character's bytes: what a pending stop-string match held
 * back (TEXT_SLACK_CHARS in vllm/chunk-reader.ts) and the character itself. More is refused
 * before it is sent anywhere.
 */
export const MAX_GROUP_CHARS = 8192;

const encoder = new TextEncoder();

export async function recoverWithheld(
  text: string,
  sent: readonly number[],
  withheld: number,
  pieces: PieceSource,
  signal: AbortSignal,
): Promise<RecoveredTokens> {
  const fail = (why: string): UpstreamError =>
    new UpstreamError(`llama-server withheld ${withheld} token id(s) inside a multi-byte character and thinkgate could not recover them (${why}).`, {
      detail: excerpt(text),
    });
  if (sent.length === 0 || withheld <= 0) throw fail('no completing id');
  if (text.length > MAX_GROUP_CHARS) throw fail(`${text.length} characters of text with them`);
  const bytes = encoder.encode(text);
  const n = withheld + sent.length;

  const own = alignTail(bytes, await pieces(text, signal), sent, withheld);
  if (own !== null) return { text, ...own };

  // Byte-fallback tokens: one byte per withheld id, placed by the sent id (the character's last byte).
  if (sent.length === 1 && n <= bytes.length) {
    const tail = bytes.subarray(bytes.length - n);
    const lead = bytes.subarray(0, bytes.length - n);
    const bytePieces = [...tail].map((b) => Uint8Array.of(b));
    const base = sent[0]! - tail[n - 1]!;
    if (base >= 0 && checkWithheld(lead, bytePieces, withheld)) {
      const ids = [...tail].map((b) => base + b);
      // A guess past the vocabulary is an HTTP 500 from llama-server (id_to_token.at): not byte tokens.
      const got = await pieces(ids, signal).catch((err: unknown) => {
        if (err instanceof AbortedError || signal.aborted) throw err;
        return [];
      });
      if (got.length === n && got.every((t, i) => t.id === ids[i] && t.piece.length === 1 && t.piece[0] === tail[i])) {
        return { text, ids, lead, pieces: bytePieces };
      }
    }
  }
  throw fail('its text matches neither the tokenizer\'s split nor byte tokens');
}

/**
 * The tokenizer's split of S, read from the end: the last `withheld + sent.length` tokens, if they
 * end with the sent ids, are the last bytes of S, and each withheld one leaves a character open.
 */
function alignTail(bytes: Uint8Array, tokens: readonly TokenPiece[], sent: readonly number[], withheld: number): Omit<RecoveredTokens, 'text'> | null {
  const n = withheld + sent.length;
  if (tokens.length < n) return null;
  const tail = tokens.slice(tokens.length - n);
  for (let i = 0; i < sent.length; i++) if (tail[withheld + i]!.id !== sent[i]) return null;
  const size = tail.reduce((s, t) => s + t.piece.length, 0);
  if (size > bytes.length) return null;
  const leadLen = bytes.length - size;
  let at = leadLen;
  for (const t of tail) {
    for (let j = 0; j < t.piece.length; j++) if (bytes[at + j] !== t.piece[j]) return null;
    at += t.piece.length;
  }
  const lead = bytes.subarray(0, leadLen);
  const pieces = tail.map((t) => t.piece);
  if (!checkWithheld(lead, pieces, withheld)) return null;
  return { ids: tail.map((t) => t.id), lead, pieces };
}

/** llama-server withholds exactly the tokens after which its text ends inside a character. */
function checkWithheld(lead: Uint8Array, pieces: readonly Uint8Array[], withheld: number): boolean {
  let text = lead;
  for (let i = 0; i < pieces.length; i++) {
    text = concat(text, pieces[i]!);
    if (endsInsideCharacter(text) !== i < withheld) return false;
  }
  return true;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function excerpt(s: string): string {
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}
