/**
 * A growing text addressed by absolute offsets, kept as chunks so that reading near its end
 * costs the size of what is read, not of the whole (a JS string grown by `+=` is copied whole
 * by V8 on the next search). The prefix before a finished call can be dropped.
 */
export class TextRope {
  private chunks: string[] = [];
  private starts: number[] = [];
  /** Absolute end offset (the text's total length so far). */
  length = 0;

  append(s: string): void {
    if (s === '') return;
    this.chunks.push(s);
    this.starts.push(this.length);
    this.length += s.length;
    // Joining every 4096 pieces keeps lookups short at an amortized O(1) cost per character.
    if (this.chunks.length > 4096) {
      const start = this.starts[0]!;
      this.chunks = [this.chunks.join('')];
      this.starts = [start];
    }
  }

  /** Absolute offset of the first kept character. */
  get start(): number {
    return this.starts[0] ?? this.length;
  }

  slice(from: number, to: number): string {
    from = Math.max(from, this.start);
    to = Math.min(to, this.length);
    if (from >= to) return '';
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= from) lo = mid;
      else hi = mid - 1;
    }
    let out = '';
    for (let i = lo; i < this.chunks.length && this.starts[i]! < to; i++) {
      const s = this.starts[i]!;
      out += this.chunks[i]!.slice(Math.max(0, from - s), to - s);
    }
    return out;
  }

  indexOf(tag: string, from: number): number {
    from = Math.max(from, this.start);
    const at = this.slice(from, this.length).indexOf(tag);
    return at < 0 ? -1 : from + at;
  }

  /** Forget whole chunks that end at or before `abs`. */
  dropBefore(abs: number): void {
    let k = 0;
    while (k < this.chunks.length && this.starts[k]! + this.chunks[k]!.length <= abs) k++;
    if (k > 0) {
      this.chunks = this.chunks.slice(k);
      this.starts = this.starts.slice(k);
    }
  }
}
