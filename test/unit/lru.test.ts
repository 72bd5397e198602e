import { describe, expect, it } from 'vitest';
import { LruCache } from '../../src/util/lru.js';

describe('LruCache', () => {
  it('drops the least recently used entry past capacity; a hit makes an entry recent', () => {
    const c = new LruCache<string, number>(2);
    c.set('a', 1);
    c.set('b', 2);
    expect(c.get('a')).toBe(1); // 'b' is now the least recently used
    c.set('c', 3);
    expect(c.get('b')).toBeUndefined();
    expect(c.get('a')).toBe(1);
    expect(c.get('c')).toBe(3);
    expect(c.size).toBe(2);
  });

  it('a capacity below 1 counts as 1; set on an existing key replaces it without evicting', () => {
    const c = new LruCache<string, number>(0);
    expect(c.capacity).toBe(1);
    c.set('a', 1);
    c.set('a', 2);
    expect(c.get('a')).toBe(2);
    c.set('b', 3);
    expect(c.get('a')).toBeUndefined();
  });

  it('deleteIfSame removes a key only while it maps to that value', () => {
    const c = new LruCache<string, object>(4);
    const first = {};
    const second = {};
    c.set('k', first);
    c.set('k', second);
    expect(c.deleteIfSame('k', first)).toBe(false);
    expect(c.get('k')).toBe(second);
    expect(c.deleteIfSame('k', second)).toBe(true);
    expect(c.get('k')).toBeUndefined();
    c.set('x', first);
    c.clear();
    expect(c.size).toBe(0);
  });
});
