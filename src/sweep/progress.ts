/**
 * Live progress with ETA on stderr: a redrawn bar on a TTY, a line per ~10% otherwise (CI logs),
 * nothing when quiet. The ETA extrapolates from items run in this process (resumed ones are free).
 */
export interface Progress {
  update(done: number, total: number, failed: number): void;
  finish(): void;
}

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}

export function progressLine(done: number, total: number, failed: number, elapsedMs: number, ranHere: number, width = 30): string {
  const frac = total === 0 ? 1 : done / total;
  const fill = Math.round(frac * width);
  const left = total - done;
  const eta = ranHere > 0 ? formatDuration((elapsedMs / ranHere) * left) : '?';
  return `[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${done}/${total} ${(frac * 100).toFixed(0)}%` +
    `${failed > 0 ? ` ${failed} failed` : ''} elapsed ${formatDuration(elapsedMs)} eta ${left === 0 ? '0s' : eta}`;
}

export function createProgress(stream: NodeJS.WriteStream | null, now: () => number = Date.now): Progress {
  const start = now();
  let first: number | null = null;
  let lastDecile = -1;
  let line = '';
  return {
    update(done, total, failed) {
      if (stream === null) return;
      if (first === null) first = done;
      line = progressLine(done, total, failed, now() - start, done - first);
      if (stream.isTTY) stream.write(`\r${line}`);
      else {
        const decile = total === 0 ? 10 : Math.floor((done / total) * 10);
        if (decile !== lastDecile) {
          lastDecile = decile;
          stream.write(`${line}\n`);
        }
      }
    },
    finish() {
      if (stream?.isTTY && line !== '') stream.write('\n');
    },
  };
}
