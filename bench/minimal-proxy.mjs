// @ts-check
/**
 * The floor (issue 14): the least a gateway that looks at tokens does. Streamed chat in, the
 * same body to an upstream's /v1/chat/completions (round robin over BENCH_MINIMAL_UPSTREAMS,
 * a JSON array of URLs) through an undici keep-alive Pool, each upstream SSE event parsed
 * (JSON.parse) and re-serialised as a chat chunk (JSON.stringify), one res.write per upstream
 * read, waiting for 'drain' when it returns false; a client that leaves aborts the upstream.
 * No validation, no budgets, no metrics, no logs: thinkgate's cost is measured against this.
 */
import { createServer } from 'node:http';
import { Pool } from 'undici';
import { installStall } from './stall.mjs';

const pools = JSON.parse(process.env.BENCH_MINIMAL_UPSTREAMS ?? '[]').map((/** @type {string} */ u) => new Pool(u));
let next = 0;
/** Resolves on 'drain' (or 'close': a client that left never drains), leaving no listener behind. */
const drained = (/** @type {import('node:http').ServerResponse} */ res) =>
  new Promise((resolve) => {
    const done = () => (res.off('drain', done), res.off('close', done), resolve(undefined));
    res.on('drain', done).on('close', done);
  });
const chunk = (/** @type {any} */ e) =>
  `data: ${JSON.stringify({ id: e.id, object: e.object, created: e.created, model: e.model, choices: e.choices, ...(e.usage ? { usage: e.usage } : {}) })}\n\n`;

const server = createServer(async (req, res) => {
  const parts = [];
  for await (const p of req) parts.push(p);
  const ac = new AbortController();
  res.on('close', () => ac.abort());
  try {
    const up = await pools[next++ % pools.length].request({
      path: '/v1/chat/completions', method: 'POST', body: Buffer.concat(parts), signal: ac.signal,
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    });
    if (up.statusCode !== 200) return void res.writeHead(up.statusCode, { 'content-type': 'application/json' }).end(await up.body.text());
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
    let buf = '';
    up.body.setEncoding('utf8');
    for await (const text of up.body) {
      buf += text;
      let out = '';
      let end;
      while ((end = buf.indexOf('\n\n')) >= 0) {
        const data = buf.slice(6, end); // "data: " ... (the upstream writes one data line per event)
        buf = buf.slice(end + 2);
        out += data === '[DONE]' ? 'data: [DONE]\n\n' : chunk(JSON.parse(data));
      }
      if (out && !res.write(out)) await drained(res);
    }
    res.end();
  } catch {
    if (!res.headersSent) res.writeHead(502);
    res.end(); // after the first byte: the stream ends without [DONE] (the client sees it broken)
  }
});
installStall(process.env);
server.listen(0, '127.0.0.1', () => process.send?.({ type: 'ready', port: /** @type {any} */ (server.address()).port }));
process.on('message', (/** @type {any} */ m) => m.type === 'exit' && process.exit(0));
process.on('disconnect', () => process.exit(0));
