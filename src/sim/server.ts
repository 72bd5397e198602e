/**
 * SIMULATOR of vLLM's OpenAI-compatible server (vLLM >= 0.10), NOT a real model: a plain
 * node:http server (so fault modes can do raw things to sockets) that speaks the subset of
 * vLLM's protocol thinkgate uses (docs/upstream-protocol.md) with the scripted model of ./model.ts.
 * Field names and error shapes follow vllm/entrypoints/openai/protocol.py. It is the test double
 * of the suite, the backend of `npm run demo` and the upstream of the benchmark, so the
 * per-token path builds chunks by string concatenation and batches writes when there is no delay.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { InvalidRequestError, NotFoundError, ThinkgateError } from '../errors.js';
import { handleChat } from './chat-route.js';
import type { TemplateKind } from './chat-template.js';
import { handleCompletions } from './completions-route.js';
import { handleGenerate } from './generate-route.js';
import { cacheKeyIds, imageMarker } from './multimodal.js';
import { chatRenderBody, completionsRenderBody } from './render-route.js';
import { faultStatus, resolveFault, type FaultDefaults, type FaultPlan } from './faults.js';
import { createGeneration, paramsFromRequest } from './generation.js';
import { readJson, sendJson } from './http-io.js';
import type { SimContext, SimModelSpec, SimOptions, SimRequestRecord, SimStats } from './context.js';

export type { SimContext, SimModelSpec, SimOptions, SimRequestRecord, SimStats } from './context.js';
import { detokenizeBody, metricsText, modelsBody, tokenizeBody } from './info-routes.js';
import { createScriptedModel, type ScriptOptions } from './model.js';
import { createPrefixCache, type PrefixCache } from './prefix-cache.js';
import { tokenizerInfoBody } from './tokenizer-info.js';
import { createSimTokenizer, type Tokenizer } from './tokenizer.js';
import { simStructuredText } from './structured.js';

/** GET /version: the vLLM release whose protocol the simulator speaks (a suffix says it is not vLLM). */
export const SIM_VLLM_VERSION = '0.32.0+simulator';



export const DEFAULT_SIM_OPTIONS: Readonly<SimOptions> = Object.freeze({
  host: '127.0.0.1',
  port: 0,
  models: [
    { id: 'sim-r1', template: 'r1' },
    { id: 'sim-qwen3', template: 'qwen3' },
    { id: 'sim-s1', template: 's1' },
  ],
  thinkTokens: 30,
  extendTokens: 10,
  answerTokens: 12,
  extensionWords: ['Wait'],
  tokenDelayMs: 0,
  tokensPerWrite: 64,
  firstTokenDelayMs: 0,
  maxModelLen: 8192,
  prefixCacheBlocks: 65_536,
  errorFormat: 'flat',
  vllmVersion: SIM_VLLM_VERSION,
  lastRequestsLimit: 200,
  trustRequestChatTemplate: false,
  fault: 'none',
  faultAfter: 5,
  slowDelayMs: 20,
  faultTokenize: false,
  faultSkip: 0,
  scaleOut: true,
} satisfies SimOptions);

/** vLLM 0.32's scale-out routes (served with --enable-scale-out; SimOptions.scaleOut). */
const CHAT_RENDER = '/v1/chat/completions/render';
const COMPLETIONS_RENDER = '/v1/completions/render';
const GENERATE = '/inference/v1/generate';
const SCALE_OUT_PATHS = [CHAT_RENDER, COMPLETIONS_RENDER, GENERATE];



export interface SimulatorServer {
  server: Server;
  stats(): SimStats;
  reset(): void;
  setOptions(patch: Partial<SimOptions>): void;
  /** Abort every generation and destroy every socket (close() of a test). */
  destroyAll(): void;
}

export interface Simulator {
  url: string;
  port: number;
  stats(): SimStats;
  reset(): void;
  setOptions(patch: Partial<SimOptions>): void;
  close(): Promise<void>;
}


const VLLM_ERROR_TYPES: Record<number, string> = {
  400: 'BadRequestError',
  404: 'NotFoundError',
  500: 'InternalServerError',
  503: 'ServiceUnavailableError',
};

export function sendError(
  res: ServerResponse,
  ctx: SimContext,
  status: number,
  message: string,
  param: string | null = null,
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  ctx.counters.errors++;
  const err = { message, type: VLLM_ERROR_TYPES[status] ?? 'InternalServerError', param, code: status };
  const body = ctx.opts.errorFormat === 'nested' ? { error: err } : { object: 'error', ...err };
  sendJson(res, status, body);
}

export function createSimulatorServer(options: Partial<SimOptions> = {}): SimulatorServer {
  let opts: SimOptions = { ...DEFAULT_SIM_OPTIONS, ...options };
  const tok = createSimTokenizer();
  let model = createScriptedModel(tok, opts);
  const sockets = new Set<Socket>();
  const inflight = new Set<AbortController>();
  let lastRequests: SimRequestRecord[] = [];
  const zero = (): SimContext['counters'] => ({
    running: 0,
    total: 0,
    aborted: 0,
    completed: 0,
    errors: 0,
    promptTokens: 0,
    cachedPromptTokens: 0,
    generationTokens: 0,
    liveGenerationTokens: 0,
  });
  /** /v1/completions, /v1/chat/completions and /inference/v1/generate requests seen since the options changed: `faultSkip` counts these. */
  let completionsSeen = 0;

  const ctx: SimContext = {
    get opts() {
      return opts;
    },
    tok,
    created: Math.floor(Date.now() / 1000),
    counters: zero(),
    cache: createPrefixCache({ capacityBlocks: opts.prefixCacheBlocks }),
    resolveModel(name) {
      if (name === undefined || name === null) return opts.models[0]!;
      const m = opts.models.find((x) => x.id === name);
      if (!m) throw new NotFoundError(`The model \`${String(name)}\` does not exist.`, { param: 'model' });
      return m;
    },
    startJob(spec, promptIds, body, defaultMax, grammarFromStart = true, features = null) {
      for (const id of promptIds) {
        if (!Number.isInteger(id) || id < 0 || id >= tok.vocabSize) {
          throw new InvalidRequestError(`Token id ${id} is out of vocabulary`, { param: 'prompt' });
        }
      }
      const params = paramsFromRequest(body, promptIds.length, defaultMax, opts.maxModelLen);
      const text = simStructuredText({ response_format: body.response_format, structured_outputs: body.structured_outputs });
      const structured = text === undefined ? undefined : { text, fromStart: grammarFromStart };
      const marker = features ? imageMarker(features) : '';
      const run = model.start(promptIds, spec.template, {
        temperature: body.temperature,
        seed: body.seed,
        banned: params.bannedIds,
        ...(structured ? { structured } : {}),
        ...(marker ? { answerSuffix: tok.encode(marker) } : {}),
      });
      const gen = createGeneration(run, tok, promptIds.length, params);
      const step = gen.next.bind(gen);
      gen.next = () => {
        ctx.counters.liveGenerationTokens++;
        return step();
      };
      const cacheIds = features ? cacheKeyIds(promptIds, features) : promptIds;
      const cached = ctx.cache.lookup(cacheIds);
      ctx.cache.insert(cacheIds);
      ctx.counters.promptTokens += promptIds.length;
      ctx.counters.cachedPromptTokens += cached;
      return { model: spec, promptIds, gen, cached, params, cacheIds };
    },
    endJob(job) {
      ctx.counters.generationTokens += job.gen.outputIds.length;
      ctx.cache.insert(job.cacheIds.concat(job.gen.outputIds));
    },
  };

  const record = (req: IncomingMessage, path: string, body: unknown): void => {
    lastRequests.push({ method: req.method ?? 'GET', path, body, headers: { ...req.headers } });
    if (lastRequests.length > opts.lastRequestsLimit) lastRequests.shift();
  };

  /** Generation bookkeeping: running/completed/aborted, and an AbortSignal for the client's close. */
  const track = (res: ServerResponse): { signal: AbortSignal; faultClosed(): void } => {
    const ac = new AbortController();
    inflight.add(ac);
    ctx.counters.total++;
    ctx.counters.running++;
    let closedByFault = false;
    res.on('close', () => {
      inflight.delete(ac);
      ctx.counters.running--;
      // Errors are counted by sendError; a fault that closed the socket is not the client's abort.
      if (res.statusCode >= 400 || closedByFault) return void ac.abort();
      if (res.writableFinished) ctx.counters.completed++;
      else ctx.counters.aborted++;
      ac.abort();
    });
    return { signal: ac.signal, faultClosed: () => void (closedByFault = true) };
  };

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (req.method === 'GET' || req.method === 'HEAD') {
      if (path === '/health' || path === '/ping') {
        res.writeHead(200, { 'content-length': 0 });
        res.end();
      } else if (path === '/v1/models') sendJson(res, 200, modelsBody(ctx));
      else if (path === '/metrics') {
        const text = metricsText(ctx);
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
        res.end(text);
      } else if (path === '/version') sendJson(res, 200, { version: opts.vllmVersion });
      else if (path === '/tokenizer_info') {
        const model = new URL(req.url ?? '/', 'http://sim').searchParams.get('model');
        sendJson(res, 200, tokenizerInfoBody(ctx, model));
      }
      else sendJson(res, 404, { detail: 'Not Found' });
      return;
    }
    if (req.method !== 'POST') return sendJson(res, 405, { detail: 'Method Not Allowed' });
    const known = ['/tokenize', '/detokenize', '/v1/completions', '/v1/chat/completions'];
    // vLLM 0.32 mounts the scale-out routes always and answers them 403 without --enable-scale-out
    // (scale_out/factories.py); an unknown route is FastAPI's 404.
    if (!opts.scaleOut && SCALE_OUT_PATHS.includes(path)) {
      const message = 'Scale-out endpoints are disabled. Restart vllm serve with --enable-scale-out to enable them.';
      return sendJson(res, 403, { error: { message, type: 'PermissionDeniedError', param: null, code: 403 } });
    }
    if (!known.includes(path) && !SCALE_OUT_PATHS.includes(path)) return sendJson(res, 404, { detail: 'Not Found' });
    const body = await readJson(req);
    record(req, path, body);
    // The token generators: the fault modes apply to all three (faults.ts). The chat endpoint is
    // one: thinkgate's first segment goes through it (routing.first_segment: chat).
    const tokenGen = path === '/v1/completions' || path === GENERATE || path === '/v1/chat/completions';
    const faultable = tokenGen || path === '/tokenize';
    const fault: FaultPlan = { ...resolveFault(faultable ? req.headers : {}, opts) };
    if (!faultable) fault.mode = 'none';
    if (tokenGen && completionsSeen++ < opts.faultSkip) fault.mode = 'none';
    if (fault.mode === 'refuse' && tokenGen) return void req.socket.destroy();
    const status = faultStatus(fault.mode);
    if (status && (tokenGen || (path === '/tokenize' && fault.tokenize))) {
      if (tokenGen) ctx.counters.total++;
      return sendError(res, ctx, status, `Simulated upstream failure (fault ${fault.mode}).`);
    }
    if (path === '/tokenize' && fault.mode === 'stall-before-first-token' && fault.tokenize) {
      // Never answer; end when the client gives up (its request timeout).
      return new Promise<void>((resolve) => res.once('close', () => resolve()));
    }
    if (path === '/tokenize' && fault.mode === 'malformed-json' && fault.tokenize) {
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end('{"count": 3, "tokens": [1, 2,');
    }
    if (path === '/tokenize') return sendJson(res, 200, tokenizeBody(ctx, body));
    if (path === '/detokenize') return sendJson(res, 200, detokenizeBody(ctx, body));
    if (path === CHAT_RENDER) return sendJson(res, 200, chatRenderBody(ctx, body));
    if (path === COMPLETIONS_RENDER) return sendJson(res, 200, completionsRenderBody(ctx, body));
    const t = track(res);
    if (path === '/v1/completions') await handleCompletions(ctx, body, res, t, fault);
    else if (path === GENERATE) await handleGenerate(ctx, body, res, t, fault, req.headers);
    else await handleChat(ctx, body, res, t, fault);
  };

  const server = createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      if (err instanceof ThinkgateError) return sendError(res, ctx, err.status, err.message, err.param);
      sendError(res, ctx, 500, err instanceof Error ? err.message : String(err));
    });
  });
  server.on('connection', (socket: Socket) => {
    if (opts.fault === 'refuse' && opts.faultSkip === 0) return void socket.destroy();
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  return {
    server,
    stats: () => ({ ...ctx.counters, openSockets: sockets.size, lastRequests: [...lastRequests] }),
    reset() {
      const running = ctx.counters.running;
      ctx.counters = { ...zero(), running };
      completionsSeen = 0;
      lastRequests = [];
      ctx.cache.clear();
    },
    setOptions(patch) {
      opts = { ...opts, ...patch };
      completionsSeen = 0;
      model = createScriptedModel(tok, opts);
    },
    destroyAll() {
      for (const ac of inflight) ac.abort();
      for (const s of sockets) s.destroy();
    },
  };
}

/** Start a simulator on `opts.host ?? 127.0.0.1`, `opts.port ?? 0` (an ephemeral port). */
export async function startSimulator(opts: Partial<SimOptions> = {}): Promise<Simulator> {
  const sim = createSimulatorServer(opts);
  const host = opts.host ?? DEFAULT_SIM_OPTIONS.host;
  await new Promise<void>((resolve, reject) => {
    sim.server.once('error', reject);
    sim.server.listen(opts.port ?? 0, host, () => {
      sim.server.off('error', reject);
      resolve();
    });
  });
  const addr = sim.server.address();
  if (addr === null || typeof addr === 'string') throw new Error('simulator: no TCP address');
  const urlHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${urlHost}:${addr.port}`,
    port: addr.port,
    stats: sim.stats,
    reset: sim.reset,
    setOptions: sim.setOptions,
    close: () =>
      new Promise<void>((resolve) => {
        sim.destroyAll();
        sim.server.close(() => resolve());
        sim.server.closeAllConnections();
      }),
  };
}
