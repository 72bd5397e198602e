/**
 * A recording HTTP proxy between the gateway and a real inference server: it forwards every
 * request unchanged, streams the response back unchanged, and keeps what went by (request body,
 * response text, whether the gateway closed the upstream request before the server finished).
 * The suite reads the real server's own token ids from it, to check budget arithmetic exactly
 * (docs/budget-forcing.md) without trusting the gateway's report of itself.
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Exchange {
  method: string;
  path: string;
  body: unknown;
  status?: number;
  /** The response as text (SSE for completions). */
  response: string;
  /** True when the response ended normally, false when the gateway hung up first. */
  completed: boolean;
}

export interface RecordingProxy {
  url: string;
  exchanges: Exchange[];
  /** Exchanges on a path since index `from`. */
  since(from: number, path: string): Exchange[];
  close(): Promise<void>;
}

export async function startRecordingProxy(target: string): Promise<RecordingProxy> {
  const t = new URL(target);
  const exchanges: Exchange[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      let body: unknown = null;
      try {
        body = raw.length > 0 ? JSON.parse(raw.toString('utf8')) : null;
      } catch {
        body = raw.toString('utf8');
      }
      const ex: Exchange = { method: req.method ?? 'GET', path: req.url ?? '/', body, response: '', completed: false };
      exchanges.push(ex);
      const up = httpRequest(
        // agent: false, a connection per request: Node's keep-alive pool does not honour the
        // servers' `Keep-Alive: timeout=5` and would reuse sockets they already closed.
        { host: t.hostname, port: t.port, path: (t.pathname.replace(/\/+$/, '') || '') + (req.url ?? '/'), method: req.method, headers: req.headers, agent: false },
        (upRes: IncomingMessage) => {
          ex.status = upRes.statusCode ?? 0;
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          upRes.on('data', (c: Buffer) => {
            ex.response += c.toString('utf8');
            res.write(c);
          });
          upRes.on('end', () => {
            ex.completed = true;
            res.end();
          });
          upRes.on('error', () => res.destroy());
        },
      );
      up.on('error', () => res.destroy());
      // The gateway hung up (a client disconnect, or a stop id on llama.cpp): hang up upstream too.
      res.on('close', () => {
        if (!ex.completed) up.destroy();
      });
      up.end(raw);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    exchanges,
    since: (from, path) => exchanges.slice(from).filter((e) => e.path === path),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
