/**
 * Runs an app until a signal: listen, then on SIGTERM/SIGINT drain (spec 6: /ready turns 503
 * so the load balancer stops sending, in-flight streams finish) and close. Streams still open
 * after drainTimeoutMs are cut, so a pod's terminationGracePeriodSeconds bounds shutdown.
 */
import type { FastifyInstance } from 'fastify';

export async function serveUntilSignal(app: FastifyInstance, onClosed: () => void = () => process.exit(0)): Promise<void> {
  const { config } = app.thinkgate;
  await app.listen({ host: config.host, port: config.port });
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal, drainTimeoutMs: config.drainTimeoutMs }, 'draining');
    app.thinkgate.draining = true;
    const force = setTimeout(() => {
      app.log.warn('drain deadline reached; closing the remaining connections');
      app.server.closeAllConnections();
    }, config.drainTimeoutMs);
    force.unref();
    app.close().then(
      () => {
        clearTimeout(force);
        onClosed();
      },
      (err: unknown) => {
        app.log.error({ err }, 'error while closing');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
