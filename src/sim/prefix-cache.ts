/**
 * SIMULATOR prefix cache: the bookkeeping of vLLM's automatic prefix caching, without KV data.
 * Like vLLM (vllm/v1/core/kv_cache_utils.py), a prompt is cut into full blocks of
 * `blockSize` tokens; each block's hash chains its parent's hash and its token ids, so a block
 * hit means the whole prefix up to it matches. Bounded LRU over blocks.
 *
 * `lookup` reports vLLM's `cached_tokens`: the longest cached full-block prefix, capped at
 * prompt length - 1, because vLLM always recomputes the last prompt token to get logits
 * (KVCacheManager.get_computed_blocks).
 */

export interface PrefixCache {
  /** Cached prefix length in tokens (a multiple of the block size). Refreshes the hit blocks. */
  lookup(ids: readonly number[]): number;
  /** Insert every full block of `ids`. */
  insert(ids: readonly number[]): void;
  /** Blocks held / capacity, for the simulated `vllm:kv_cache_usage_perc`. */
  usage(): number;
  clear(): void;
}

export interface PrefixCacheOptions {
  blockSize?: number;
  /** Most blocks kept (LRU beyond). */
  capacityBlocks?: number;
}

export function createPrefixCache(opts: PrefixCacheOptions = {}): PrefixCache {
  const blockSize = opts.blockSize ?? 16;
  const capacity = opts.capacityBlocks ?? 65_536;
  // Map iteration order is insertion order: delete + set moves a key to the young end.
  const blocks = new Map<string, true>();

  /** Hashes of the full blocks of `ids`, up to `limit` tokens. Two 32-bit FNV lanes per block. */
  const blockKeys = (ids: readonly number[], limit: number): string[] => {
    const keys: string[] = [];
    let h1 = 0x811c9dc5;
    let h2 = 0x01000193;
    for (let b = 0; (b + 1) * blockSize <= limit; b++) {
      for (let i = b * blockSize; i < (b + 1) * blockSize; i++) {
        const t = ids[i]!;
        h1 = Math.imul(h1 ^ t, 0x01000193);
        h2 = Math.imul(h2 ^ (t + 0x9e3779b9), 0x85ebca6b) ^ (h2 >>> 15);
      }
      keys.push(`${b}:${(h1 >>> 0).toString(36)}:${(h2 >>> 0).toString(36)}`);
    }
    return keys;
  };

  return {
    lookup(ids) {
      const keys = blockKeys(ids, Math.max(0, ids.length - 1));
      let hit = 0;
      for (const k of keys) {
        if (!blocks.has(k)) break;
        blocks.delete(k);
        blocks.set(k, true);
        hit++;
      }
      return hit * blockSize;
    },
    insert(ids) {
      for (const k of blockKeys(ids, ids.length)) {
        blocks.delete(k);
        blocks.set(k, true);
      }
      while (blocks.size > capacity) {
        const oldest = blocks.keys().next().value;
        if (oldest === undefined) break;
        blocks.delete(oldest);
      }
    },
    usage: () => blocks.size / capacity,
    clear: () => blocks.clear(),
  };
}
