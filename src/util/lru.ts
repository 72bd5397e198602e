/**
 * A bounded map that drops its least recently used entry past `capacity`: the one cache helper of
 * the gateway (model policies, profile delimiter ids, tokenize results). A Map iterates in
 * insertion order, so re-inserting on every hit makes its first key the least recently used.
 * No I/O imports: the engine may use it (docs/architecture.md).
 */
export class LruCache<K, V> {
  private readonly map = new Map<K, V>();
  readonly capacity: number;

  /** `capacity` below 1 counts as 1. */
  constructor(capacity: number) {
    this.capacity = Math.max(1, capacity);
  }

  get size(): number {
    return this.map.size;
  }

  /** The value, now the most recently used; undefined on a miss. */
  get(key: K): V | undefined {
    if (!this.map.has(key)) return undefined;
    const value = this.map.get(key) as V;
    this.map.delete(key);
    this.map.set(key, value);
    return value;
  }

  /** Stores `value` as the most recently used, evicting the least recently used past capacity. */
  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.capacity) {
      const oldest = this.map.keys().next();
      if (oldest.done !== true) this.map.delete(oldest.value);
    }
  }

  delete(key: K): boolean {
    return this.map.delete(key);
  }

  /**
   * Removes `key` only while it still maps to `value`: a failed lookup that was evicted and
   * replaced meanwhile must not remove its replacement.
   */
  deleteIfSame(key: K, value: V): boolean {
    return this.map.get(key) === value && this.map.delete(key);
  }

  clear(): void {
    this.map.clear();
  }
}
