/**
 * CPU time and memory of a process and its descendants from Linux /proc (proc(5)), so the
 * same measure applies to the Node gateway, the simulator, the load generator and LiteLLM's
 * Python proxy: utime + stime of /proc/<pid>/stat (fields 14 and 15, in clock ticks; 100 Hz
 * here, `getconf CLK_TCK`), VmRSS and VmHWM (the peak) of /proc/<pid>/status. Writing "5" to
 * /proc/<pid>/clear_refs resets VmHWM (Linux >= 4.0), which gives a per-batch peak; a 20 ms
 * sampler backs it up where the reset is refused.
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';

const TICKS_PER_S = 100;

/** Parent pid and CPU seconds of one process; null if it is gone. */
function statOf(pid: number): { ppid: number; cpuS: number } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // comm (field 2) may contain spaces and parentheses: split after the last ')'.
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // f[0] is field 3 (state): field n is f[n - 3].
  return { ppid: Number(f[1]), cpuS: (Number(f[11]) + Number(f[12])) / TICKS_PER_S };
}

/** `pid` and all its descendants (scans /proc once). */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = statOf(Number(name));
    if (!s) continue;
    const list = children.get(s.ppid) ?? [];
    list.push(Number(name));
    children.set(s.ppid, list);
  }
  const out: number[] = [];
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop()!;
    out.push(p);
    stack.push(...(children.get(p) ?? []));
  }
  return out;
}

function statusKb(pid: number, key: 'VmRSS' | 'VmHWM'): number {
  try {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

export interface ProcSnapshot {
  cpuS: number;
  rssBytes: number;
  /** Sum of the processes' peaks since their last reset (an upper bound of the tree's peak). */
  hwmBytes: number;
}

/** A process tree, measured together (LiteLLM may fork workers; Node does not). */
export class ProcWatch {
  private pids: number[];
  private sampler: NodeJS.Timeout | null = null;
  private sampledPeak = 0;
  /** Whether clear_refs worked for every process at the last reset. */
  hwmResettable = true;

  /** `tree`: include descendants (LiteLLM); Node children are measured alone. */
  constructor(
    readonly rootPid: number,
    private readonly tree = false,
  ) {
    this.pids = tree ? processTree(rootPid) : [rootPid];
  }

  /** Re-reads the descendants (call once the process has finished starting). */
  refresh(): void {
    if (this.tree) this.pids = processTree(this.rootPid);
  }

  snapshot(): ProcSnapshot {
    let cpuS = 0;
    let rss = 0;
    let hwm = 0;
    for (const p of this.pids) {
      cpuS += statOf(p)?.cpuS ?? 0;
      rss += statusKb(p, 'VmRSS');
      hwm += statusKb(p, 'VmHWM');
    }
    return { cpuS, rssBytes: rss * 1024, hwmBytes: hwm * 1024 };
  }

  rssBytes(): number {
    let rss = 0;
    for (const p of this.pids) rss += statusKb(p, 'VmRSS');
    return rss * 1024;
  }

  /** Resets the peak (VmHWM) and starts the backup sampler. */
  startPeak(intervalMs = 20): void {
    this.hwmResettable = true;
    for (const p of this.pids) {
      try {
        writeFileSync(`/proc/${p}/clear_refs`, '5');
      } catch {
        this.hwmResettable = false;
      }
    }
    this.sampledPeak = this.rssBytes();
    this.sampler = setInterval(() => {
      this.sampledPeak = Math.max(this.sampledPeak, this.rssBytes());
    }, intervalMs);
  }

  /** The peak RSS since startPeak: VmHWM where it could be reset, else the sampled maximum. */
  stopPeak(): number {
    if (this.sampler) clearInterval(this.sampler);
    this.sampler = null;
    const sampled = Math.max(this.sampledPeak, this.rssBytes());
    return this.hwmResettable ? Math.max(this.snapshot().hwmBytes, sampled) : sampled;
  }
}
