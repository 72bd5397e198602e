/** `thinkgate sweep` flags, parsed with node:util parseArgs (no CLI dependency). */
import { parseArgs } from 'node:util';
import { getGrader, GRADER_NAMES, type GraderName } from './graders.js';
import { parseEarlyExitList, parseEffortList, parseIntList, parseOnOffList, type GridSpec } from './grid.js';

export interface SweepArgs {
  endpoint: string;
  model: string;
  data: string;
  grader: string;
  grid: GridSpec;
  /** Client-side samples per item (majority vote here); 1 with --aggregate, where the gateway votes. */
  samples: number;
  /** --aggregate majority: the gateway votes over `n` samples (grid.samples), with this grader. */
  aggregate?: { method: 'majority'; grader: GraderName };
  out: string;
  concurrency: number;
  temperature?: number;
  maxTokens?: number;
  apiKey?: string;
  timeoutMs: number;
  promptSuffix?: string;
  title?: string;
  quiet: boolean;
}

export const SWEEP_USAGE = `usage: thinkgate sweep --endpoint URL --model M --data FILE.jsonl --out DIR [options]

  --endpoint URL        OpenAI-compatible base URL (thinkgate, or vLLM for a baseline)
  --model M             model id sent in each request
  --data FILE           JSONL: {"question", "answer", "id"?, "choices"?} per line
  --grader NAME         ${GRADER_NAMES.join(' | ')} (default numeric)
  --max-thinking LIST   e.g. 512,1024,2048 (max_thinking_tokens)
  --min-thinking LIST   min_thinking_tokens values
  --extensions LIST     max_thinking_extensions values (the "Wait" sweep; they act only
                        below --min-thinking, so set that too, e.g. equal to --max-thinking)
  --effort LIST         reasoning_effort values (none,minimal,low,medium,high,xhigh,max)
  --early-exit LIST     thinking_early_exit values: off, on (profile defaults), INTERVAL or
                        INTERVALxAGREEMENTS, e.g. off,64x2,128x3
  --suppress-reflection LIST
                        suppress_reflection values: off, on, or off,on (NoWait)
  --aggregate majority  the gateway votes: each setting sends n = --samples with aggregate
                        majority (the --grader's), and reports the tokens of all samples
  --samples N|LIST      without --aggregate: samples per item, voted here (default 1); with
                        --aggregate: a list of n values, e.g. 1,4,8 (1 = a plain request)
  --temperature T       sampling temperature (default: endpoint's; 0.7 when --samples > 1)
  --max-tokens N        max_completion_tokens per request
  --concurrency N       items in flight (default 4)
  --out DIR             output folder (items.jsonl, summary.json, summary.md, plot.svg); re-run resumes
  --api-key KEY         bearer token (default $OPENAI_API_KEY)
  --timeout-ms N        per-request timeout (default 600000)
  --prompt-suffix TEXT  appended to each question (default depends on the grader)
  --title TEXT          plot title / summary note
  --quiet               no progress output

Several finished sweeps on one chart, with the tokens saved against a budget sweep:
  thinkgate sweep --compare DIR,DIR,... --out DIR [--baseline NAME] [--title TEXT]
`;

export function parseSweepArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): SweepArgs {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      endpoint: { type: 'string' },
      model: { type: 'string' },
      data: { type: 'string' },
      grader: { type: 'string', default: 'numeric' },
      'max-thinking': { type: 'string' },
      'min-thinking': { type: 'string' },
      extensions: { type: 'string' },
      effort: { type: 'string' },
      samples: { type: 'string', default: '1' },
      'early-exit': { type: 'string' },
      'suppress-reflection': { type: 'string' },
      aggregate: { type: 'string' },
      temperature: { type: 'string' },
      'max-tokens': { type: 'string' },
      concurrency: { type: 'string', default: '4' },
      out: { type: 'string' },
      'api-key': { type: 'string' },
      'timeout-ms': { type: 'string', default: '600000' },
      'prompt-suffix': { type: 'string' },
      title: { type: 'string' },
      quiet: { type: 'boolean', default: false },
    },
  });
  if (positionals.length > 0) throw new Error(`unexpected argument "${positionals[0]}"`);
  for (const req of ['endpoint', 'model', 'data', 'out'] as const) {
    if (!values[req]) throw new Error(`--${req} is required`);
  }
  if (!(GRADER_NAMES as readonly string[]).includes(values.grader!) && !['math', 'mc'].includes(values.grader!)) {
    throw new Error(`--grader: "${values.grader}" is not one of ${GRADER_NAMES.join(', ')}`);
  }
  const posInt = (flag: string, v: string): number => {
    if (!/^\d+$/.test(v) || Number(v) < 1) throw new Error(`--${flag}: expected a positive integer, got "${v}"`);
    return Number(v);
  };
  if (values.aggregate !== undefined && values.aggregate !== 'majority') {
    throw new Error(`--aggregate: "${values.aggregate}" is not supported (only majority)`);
  }
  const served = values.aggregate === 'majority';
  let samples = 1;
  let servedSamples: number[] = [];
  if (served) {
    servedSamples = parseIntList('samples', values.samples!);
    if (servedSamples.some((n) => n < 1 || n > 128)) throw new Error('--samples: each n must be 1..128');
  } else samples = posInt('samples', values.samples!);
  const out: SweepArgs = {
    endpoint: values.endpoint!,
    model: values.model!,
    data: values.data!,
    grader: values.grader!,
    grid: {
      maxThinking: values['max-thinking'] ? parseIntList('max-thinking', values['max-thinking']) : [],
      minThinking: values['min-thinking'] ? parseIntList('min-thinking', values['min-thinking']) : [],
      extensions: values.extensions ? parseIntList('extensions', values.extensions) : [],
      effort: values.effort ? parseEffortList(values.effort) : [],
      earlyExit: values['early-exit'] ? parseEarlyExitList(values['early-exit']) : [],
      suppressReflection: values['suppress-reflection'] ? parseOnOffList('suppress-reflection', values['suppress-reflection']) : [],
      // A single n is a dimension too: every request of the sweep carries it.
      samples: servedSamples,
    },
    samples,
    out: values.out!,
    concurrency: posInt('concurrency', values.concurrency!),
    timeoutMs: posInt('timeout-ms', values['timeout-ms']!),
    quiet: values.quiet === true,
  };
  if (values.temperature !== undefined) {
    const t = Number(values.temperature);
    if (!Number.isFinite(t) || t < 0) throw new Error(`--temperature: expected a number >= 0, got "${values.temperature}"`);
    out.temperature = t;
  } else if (samples > 1 || servedSamples.some((n) => n > 1)) {
    // Majority vote needs samples that can differ; greedy decoding would repeat one answer N times.
    out.temperature = 0.7;
  }
  if (served) out.aggregate = { method: 'majority', grader: getGrader(values.grader!).name };
  if (values['max-tokens'] !== undefined) out.maxTokens = posInt('max-tokens', values['max-tokens']);
  const key = values['api-key'] ?? env.OPENAI_API_KEY;
  if (key) out.apiKey = key;
  if (values['prompt-suffix'] !== undefined) out.promptSuffix = values['prompt-suffix'];
  if (values.title !== undefined) out.title = values.title;
  return out;
}
