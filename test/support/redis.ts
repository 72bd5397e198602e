/**
 * A real redis-server (Debian's package; .ci/run installs it) on a loopback port picked at run
 * time, with persistence off. `stop()` kills it (SIGKILL: Redis dying, not shutting down) and
 * `start()` brings a fresh one up on the same port, as a restarted pod would be. Tests that need
 * it skip with a message when `redis-server` is not on PATH (CI has it).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createServer, Socket } from 'node:net';

export const REDIS_SERVER = process.env['THINKGATE_REDIS_SERVER'] ?? 'redis-server';

/** Whether redis-server can run here; the reason to print when not. */
export function redisAvailable(): { ok: true } | { ok: false; why: string } {
  const r = spawnSync(REDIS_SERVER, ['--version'], { encoding: 'utf8' });
  if (r.error !== undefined || r.status !== 0) {
    return { ok: false, why: `${REDIS_SERVER} not found (apt-get install -y redis-server; CI installs it): Redis tests skipped` };
  }
  return { ok: true };
}

export interface RedisServer {
  port: number;
  url: string;
  start(): Promise<void>;
  /** SIGKILL, and wait for the port to refuse connections. */
  stop(): Promise<void>;
  /** One raw command over RESP (inline form), for test assertions. */
  command(...args: string[]): Promise<string>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => (typeof addr === 'object' && addr !== null ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  let child: ChildProcess | null = null;
  const server: RedisServer = {
    port,
    url: `redis://127.0.0.1:${port}/0`,
    async start() {
      child = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'], {
        stdio: 'ignore',
      });
      const deadline = Date.now() + 10_000;
      for (;;) {
        try {
          if ((await server.command('PING')) === '+PONG') return;
        } catch {
          // not up yet
        }
        if (Date.now() > deadline) throw new Error(`redis-server did not start on port ${port}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      const c = child;
      child = null;
      if (c === null || c.exitCode !== null) return;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await exited;
    },
    command(...args) {
      return new Promise((resolve, reject) => {
        const sock = new Socket();
        let buf = '';
        sock.setTimeout(2000, () => sock.destroy(new Error('redis command timed out')));
        sock.once('error', reject);
        sock.on('data', (d) => {
          buf += d.toString('utf8');
          const line = buf.split('\r\n');
          // One reply: a simple line, or a bulk string ($n + data).
          if (line.length >= 2 && !line[0]!.startsWith('$')) {
            sock.end();
            resolve(line[0]!);
          } else if (line.length >= 3 && line[0]!.startsWith('$')) {
            sock.end();
            resolve(line[0] === '$-1' ? '' : line[1]!);
          } else if (line[0] === '$-1') {
            sock.end();
            resolve('');
          }
        });
        sock.connect(port, '127.0.0.1', () => sock.write(`${args.join(' ')}\r\n`));
      });
    },
  };
  await server.start();
  return server;
}
