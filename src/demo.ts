/**
 * `npm run demo`: the gateway in front of the built-in vLLM SIMULATOR (a scripted fake model,
 * not a real LLM), so a newcomer can try budget forcing with no GPU. The simulator "thinks" for
 * 30 tokens, 10 more after each "Wait", then answers.
 *
 * THINKGATE_PORT (default 8080) and SIM_PORT (default 8000) pick the ports; SIM_TOKEN_DELAY_MS
 * (default 15) makes the stream visible to the eye.
 */
import { buildApp } from './app.js';
import { ConfigError, loadConfigFromObject } from './config/index.js';
import { serveUntilSignal } from './serve.js';
import { startSimulator } from './sim/server.js';

async function main(): Promise<void> {
  const sim = await startSimulator({
    port: Number(process.env.SIM_PORT ?? 8000),
    tokenDelayMs: Number(process.env.SIM_TOKEN_DELAY_MS ?? 15),
  });
  let config;
  try {
    config = loadConfigFromObject(
      {
        upstreams: [{ url: sim.url }],
        models: { 'sim-s1*': { profile: 's1' }, '*': { profile: 'think-tags' } },
        server: { host: '127.0.0.1' },
      },
      { ...process.env, THINKGATE_UPSTREAMS: undefined },
    );
  } catch (err) {
    if (err instanceof ConfigError) process.stderr.write(`${err.message}\n`);
    await sim.close();
    process.exit(1);
  }
  const app = await buildApp(config);
  await serveUntilSignal(app, () => void sim.close().then(() => process.exit(0)));
  const gw = `http://127.0.0.1:${config.port}`;
  process.stdout.write(`
thinkgate demo: gateway ${gw}  ->  vLLM simulator ${sim.url} (a scripted fake model, not a real LLM)
Models: sim-r1 (R1-style template), sim-qwen3 (Qwen3-style), sim-s1 (s1 delimiters).

Try:
  curl -s ${gw}/v1/chat/completions -H 'content-type: application/json' -d '{
    "model": "sim-r1", "messages": [{"role": "user", "content": "What is 6 x 7?"}],
    "max_thinking_tokens": 10}' | jq '{reasoning: .choices[0].message.reasoning_content, answer: .choices[0].message.content, budget_forcing}'

  curl -sN ${gw}/v1/chat/completions -H 'content-type: application/json' -d '{
    "model": "sim-r1", "messages": [{"role": "user", "content": "What is 6 x 7?"}],
    "min_thinking_tokens": 50, "stream": true, "stream_options": {"include_usage": true}}'

  curl -s ${gw}/metrics | grep thinkgate_request_thinking_tokens

Ctrl-C stops both.
`);
}

void main();
