/**
 * `backend` with its streamCompletion replaced and everything else passed through: how the runs
 * layer puts something on every segment call (upstream-allowance.ts counts bytes;
 * chat-first-segment.ts hands over a chat stream already running) without touching the engine.
 */
import type { Backend } from '../engine/backend.js';

export function withStreamCompletion(backend: Backend, streamCompletion: Backend['streamCompletion']): Backend {
  return {
    get name() {
      return backend.name;
    },
    tokenizeChat: (req, signal) => backend.tokenizeChat(req, signal),
    tokenizePrompt: (model, text, add, signal) => backend.tokenizePrompt(model, text, add, signal),
    tokenize: (model, text, signal) => backend.tokenize(model, text, signal),
    streamCompletion,
    ...(backend.checkAnswerFields ? { checkAnswerFields: (fields: Readonly<Record<string, unknown>>) => backend.checkAnswerFields!(fields) } : {}),
    ...(backend.tokenLogprobs === undefined ? {} : { tokenLogprobs: backend.tokenLogprobs }),
    models: (signal) => backend.models(signal),
    health: (signal) => backend.health(signal),
  };
}
