/**
 * Incremental matcher for a token-id sequence (a thinking delimiter) in a stream of ids.
 *
 * Delimiters can be several ids (s1's `<|im_start|>answer` is two; with Qwen2.5 tokenizers
 * `</think>` is three), and chunks can split them anywhere, so the engine feeds ids one by one.
 * Knuth-Morris-Pratt keeps it O(1) amortized per id with no allocation on the hot path.
 */
export class SeqMatcher {
  private readonly needle: readonly number[];
  private readonly fail: Int32Array;
  private q = 0;

  constructor(needle: readonly number[]) {
    if (needle.length === 0) throw new Error('SeqMatcher needs a non-empty sequence');
    this.needle = needle;
    this.fail = new Int32Array(needle.length);
    for (let i = 1, k = 0; i < needle.length; i++) {
      while (k > 0 && needle[i] !== needle[k]) k = this.fail[k - 1]!;
      if (needle[i] === needle[k]) k++;
      this.fail[i] = k;
    }
  }

  /** How many ids at the end of what was fed form a prefix of the sequence (held back). */
  get pending(): number {
    return this.q;
  }

  /**
   * Feeds one id. Returns how many earlier-held ids plus this id are released as ordinary
   * ids (no longer part of a possible match), or -1 when the sequence just completed
   * (all held ids and this one form the delimiter; the matcher resets).
   */
  push(id: number): number {
    const before = this.q;
    let q = before;
    while (q > 0 && this.needle[q] !== id) q = this.fail[q - 1]!;
    if (this.needle[q] === id) q++;
    if (q === this.needle.length) {
      this.q = 0;
      return -1;
    }
    this.q = q;
    return before + 1 - q;
  }

  /** Releases every held id (the stream ended): returns how many. */
  flush(): number {
    const n = this.q;
    this.q = 0;
    return n;
  }
}
