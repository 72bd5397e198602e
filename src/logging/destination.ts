/**
 * Where log lines go: standard output, buffered (config `server.log_flush_ms`, docs/configuration.md).
 *
 * A synchronous pino destination writes each line with its own write(2). At one line per request
 * (logging/request-log.ts) that syscall, to the pipe a container runtime reads, was about 60 us of
 * a one-token request's ~600 us of CPU, and it sits before the next request's work on the event
 * loop (issue 14: bench CPU per request, docs/performance.md). Buffered, the lines of many
 * requests go out in one write: when 4 KiB have gathered, every `flushMs`, at once for a line at
 * `warn` or above, and on close. pino flushes its asynchronous destinations when the process
 * exits (exit, SIGTERM, SIGINT, an uncaught exception); what a SIGKILL or an OOM kill loses is at
 * most the last `flushMs` of lines (pino's docs, "Asynchronous logging").
 *
 * The buffer is bounded: a stdout nobody reads cannot grow the process. Past MAX_BUFFER_BYTES,
 * lines are dropped (sonic-boom's maxLength) rather than held.
 */
import { pino, type DestinationStream, type LoggerOptions } from 'pino';

/** A write of at least this much goes out at once (pino's documented value). */
const MIN_WRITE_BYTES = 4096;
/** Most log text held while stdout does not keep up. */
export const MAX_BUFFER_BYTES = 16 * 1024 * 1024;
/** Longest buildApp's close waits for the held lines to be written. */
const CLOSE_WAIT_MS = 2000;
/** pino's number for `warn`: lines at it or above are flushed at once. */
const WARN = 40;

export interface LogDestination {
  stream: DestinationStream;
  /** For pino's `hooks.logMethod`, after every line: notes it, and flushes one at warn or above (undefined: nothing to do). */
  afterLine?: (level: number) => void;
  /** Writes what is held and stops the timer (buildApp's onClose). */
  close(): Promise<void>;
}

/** `stream` as it is: each line written at once, nothing held to flush. */
export function unbuffered(stream: DestinationStream): LogDestination {
  return { stream, close: async () => {} };
}

/** Standard output; `flushMs` 0: each line written at once, as pino does by default. */
export function stdoutDestination(flushMs: number): LogDestination {
  if (flushMs === 0) return unbuffered(pino.destination(1));
  const dest = pino.destination({ dest: 1, sync: false, minLength: MIN_WRITE_BYTES, maxLength: MAX_BUFFER_BYTES });
  // Lines since the last flush: the timer does not write an empty buffer (sonic-boom would issue a
  // zero-byte write) on an idle gateway.
  let dirty = false;
  let closed = false;
  const flush = (): void => {
    if (!dirty || closed) return;
    dirty = false;
    try {
      dest.flush();
    } catch {
      // Ended by pino's exit handler: it wrote what was held.
    }
  };
  const timer = setInterval(flush, flushMs);
  timer.unref();
  return {
    stream: dest,
    afterLine: (level) => {
      dirty = true;
      if (level >= WARN) flush();
    },
    close: async () => {
      clearInterval(timer);
      if (closed) return;
      closed = true;
      // Everything held, written before the process exits (an in-flight write included), but
      // never a shutdown held up by a stdout nobody reads.
      await new Promise<void>((resolve) => {
        const giveUp = setTimeout(resolve, CLOSE_WAIT_MS);
        try {
          dest.flush(() => {
            clearTimeout(giveUp);
            resolve();
          });
        } catch {
          clearTimeout(giveUp);
          resolve();
        }
      });
    },
  };
}

/** pino options that tell `out` of every line (its afterLine), or none when it needs not hear. */
export function lineHooks(out: LogDestination): Pick<LoggerOptions, 'hooks'> {
  const afterLine = out.afterLine;
  if (afterLine === undefined) return {};
  return {
    hooks: {
      logMethod(args, method, level) {
        method.apply(this, args);
        afterLine(level);
      },
    },
  };
}
