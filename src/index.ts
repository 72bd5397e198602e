/**
 * The only file that touches the process for the gateway: environment in, server out.
 * `npm start` runs the built copy of this file.
 */
import { buildApp } from './app.js';
import { ConfigError, loadConfig } from './config/index.js';
import { serveUntilSignal } from './serve.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const app = await buildApp(config, { processMetrics: true });
  await serveUntilSignal(app);
}

main().catch((err: unknown) => {
  process.stderr.write(`thinkgate failed to start: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
