/**
 * Runs an app until a signal. On SIGTERM/SIGINT it drains (docs/architecture.md): /ready and new requests
 * answer 503 while the listener stays open (a Kubernetes endpoint lingers a few seconds after
 * SIGTERM), in-flight requests run to the end or to the drain deadline, where they end with an
 * error event and their upstream requests are aborted; then the app closes and the process
 * exits 0. terminationGracePeriodSeconds must exceed preStop + drain deadline + a margin.
 */
import type { FastifyInstance } from 'fastify';

const POLL_MS = 50;
/** After the deadline's abort, how long requests get to write their error event. */
const ABORT_GRACE_MS = 2000;

export async function serveUntilSignal(app: FastifyInstance, onClosed: () => void = () => process.exit(0)): Promise<void> {
  const { config } = app.thinkgate;
  await app.listen({ host: config.host, port: config.port });
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    drain(app, signal).then(onClosed, (err: unknown) => {
      app.log.error({ err }, 'error while draining');
      process.exit(1);
    });
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

export async function drain(app: FastifyInstance, signal: string): Promise<void> {
  const ctx = app.thinkgate;
  const busy = (): boolean => ctx.limiter.running > 0 || ctx.limiter.queued > 0;
  ctx.draining = true;
  app.log.info({ signal, drainTimeoutMs: ctx.config.drainTimeoutMs, inflight: ctx.limiter.running }, 'draining');
  await waitWhile(busy, ctx.config.drainTimeoutMs);
  if (busy()) {
    app.log.warn({ inflight: ctx.limiter.running }, 'drain deadline reached; ending the remaining requests');
    ctx.shutdown.abort();
    await waitWhile(busy, ABORT_GRACE_MS);
  }
  const force = setTimeout(() => app.server.closeAllConnections(), ABORT_GRACE_MS);
  force.unref();
  await app.close();
  clearTimeout(force);
  app.log.info('closed');
}

async function waitWhile(cond: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, POLL_MS));
}
