/**
 * Applies client `stop` strings to the answer text only (docs/budget-forcing.md): thinking never
 * stops on them. Text that could be the start of a stop string is held back until it is decided,
 * like vLLM's own stop checker, so a stop string split across chunks is still caught and never
 * shown.
 *
 * One Aho-Corasick automaton over all stop strings (Aho and Corasick, "Efficient string
 * matching", CACM 1975): each answer character costs O(1) amortised however many stop strings
 * there are. The earlier scan tried every stop string at every token, so a request with 100,000
 * stop strings cost about 15 ms of CPU per answer token on the event loop (issue 11: a sample of
 * the "one request takes the process" class); the request schema also bounds their number and
 * size (openai/common-fields.ts), which bounds this automaton's memory.
 *
 * The match reported is the one that ends first in the text (the longest of those ending at the
 * same character), so the result does not depend on how the text was cut into chunks.
 */
export interface StopResult {
  /** Text that is safe to emit now. */
  text: string;
  /** A stop string matched: `text` ends right before it and generation must end. */
  stopped: boolean;
  /** The stop string that matched (vLLM reports it as the choice's `stop_reason`). */
  matched?: string;
}

/** Node 0 is the root; edges are UTF-16 code units. */
class Automaton {
  /** Children per node (most nodes have one: a Map is made only for the few that branch). */
  private readonly edge: number[] = [-1];
  private readonly child: number[] = [0];
  private readonly more: (Map<number, number> | undefined)[] = [undefined];
  /** Failure link: the node of the longest proper suffix that is also a trie path. */
  private readonly fail: number[] = [0];
  /** Length of the trie path to the node. */
  readonly depth: number[] = [0];
  /** Longest stop string that is a suffix of the node's path (0: none). */
  private readonly out: number[] = [0];

  constructor(patterns: readonly string[]) {
    for (const p of patterns) {
      let node = 0;
      for (let i = 0; i < p.length; i++) {
        const code = p.charCodeAt(i);
        node = this.goto(node, code) ?? this.add(node, code);
      }
      this.out[node] = p.length;
    }
    this.link();
  }

  private goto(node: number, code: number): number | undefined {
    if (this.edge[node] === code) return this.child[node];
    return this.more[node]?.get(code);
  }

  private add(parent: number, code: number): number {
    const node = this.depth.length;
    this.depth.push(this.depth[parent]! + 1);
    this.fail.push(0);
    this.out.push(0);
    this.edge.push(-1);
    this.child.push(0);
    this.more.push(undefined);
    if (this.edge[parent] === -1) {
      this.edge[parent] = code;
      this.child[parent] = node;
    } else (this.more[parent] ??= new Map()).set(code, node);
    return node;
  }

  private children(node: number): [number, number][] {
    const list: [number, number][] = this.edge[node] === -1 ? [] : [[this.edge[node]!, this.child[node]!]];
    for (const e of this.more[node] ?? []) list.push(e);
    return list;
  }

  /** Breadth-first, so a node's failure target is final before its children need it. */
  private link(): void {
    const queue: number[] = [0];
    for (let q = 0; q < queue.length; q++) {
      const node = queue[q]!;
      for (const [code, child] of this.children(node)) {
        this.fail[child] = node === 0 ? 0 : this.step(this.fail[node]!, code);
        this.out[child] = Math.max(this.out[child]!, this.out[this.fail[child]!]!);
        queue.push(child);
      }
    }
  }

  step(node: number, code: number): number {
    for (;;) {
      const child = this.goto(node, code);
      if (child !== undefined) return child;
      if (node === 0) return 0;
      node = this.fail[node]!;
    }
  }

  matchLength(node: number): number {
    return this.out[node]!;
  }
}

export class StopMatcher {
  private held = '';
  private state = 0;
  private readonly automaton: Automaton | null;

  constructor(stops: readonly string[]) {
    const nonEmpty = stops.filter((s) => s.length > 0);
    this.automaton = nonEmpty.length > 0 ? new Automaton(nonEmpty) : null;
  }

  get active(): boolean {
    return this.automaton !== null;
  }

  push(chunk: string): StopResult {
    const a = this.automaton;
    if (a === null) return { text: chunk, stopped: false };
    const buf = this.held + chunk;
    let state = this.state;
    for (let i = this.held.length; i < buf.length; i++) {
      state = a.step(state, buf.charCodeAt(i));
      const len = a.matchLength(state);
      if (len > 0) {
        this.held = '';
        this.state = 0;
        return { text: buf.slice(0, i + 1 - len), stopped: true, matched: buf.slice(i + 1 - len, i + 1) };
      }
    }
    // The automaton's state is the longest suffix that may still become a stop string: hold
    // exactly that, release the rest.
    this.state = state;
    const keep = a.depth[state]!;
    this.held = buf.slice(buf.length - keep);
    return { text: buf.slice(0, buf.length - keep), stopped: false };
  }

  /** The stream ended without a match: what was held is ordinary text. */
  flush(): string {
    const t = this.held;
    this.held = '';
    this.state = 0;
    return t;
  }
}
