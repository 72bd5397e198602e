/**
 * The vLLM SIMULATOR (not a real model): a deterministic stand-in for vLLM's OpenAI server,
 * used by the test suite, `npm run demo` and the benchmark.
 */
export {
  startSimulator,
  createSimulatorServer,
  DEFAULT_SIM_OPTIONS,
  type Simulator,
  type SimulatorServer,
  type SimOptions,
  type SimStats,
  type SimModelSpec,
  type SimRequestRecord,
} from './server.js';
export {
  createSimTokenizer,
  SPECIAL_TOKENS,
  ENDOFTEXT_ID,
  IM_START_ID,
  IM_END_ID,
  EOS_ID,
  THINK_START_ID,
  THINK_END_ID,
  BYTE_BASE,
  WORD_BASE,
  ADDED_BASE,
  VISION_START_ID,
  VISION_END_ID,
  IMAGE_PAD_ID,
  type Tokenizer,
  type IncrementalDetokenizer,
} from './tokenizer.js';
export { renderChatTemplate, type TemplateKind, type RenderOptions } from './chat-template.js';
export {
  createScriptedModel,
  type ScriptOptions,
  type ScriptedModel,
  type ScriptRun,
  type TokenKind,
} from './model.js';
export { createGeneration, type Generation, type GenerationParams, type GenerationStep } from './generation.js';
export { createPrefixCache, type PrefixCache } from './prefix-cache.js';
export { FAULT_MODES, isFaultMode, type FaultMode, type FaultPlan } from './faults.js';
export { parseSimArgs } from './main.js';
export { findProblem, findProblems, answerAfter, correctProbability, type Problem } from './solver.js';
export { promptLogprobs, generatedLogprobs, type CompletionLogprobs } from './logprobs.js';
export { tokenizerInfoBody, JINJA_CHAT_TEMPLATES } from './tokenizer-info.js';
export { expandImages, imageHash, imagePadCount, imageMarker, checkFeatures, type MmFeatures } from './multimodal.js';
export { toSamplingParams, fromSamplingParams, type SimSamplingParams } from './sampling-params.js';
