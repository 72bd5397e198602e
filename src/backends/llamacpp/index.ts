/** The llama.cpp backend: the engine's Backend port over llama.cpp's llama-server. */
export { LlamaCppBackend, type LlamaCppBackendOptions } from './client.js';
export { LlamaChunkReader, MAX_WITHHELD_IDS } from './chunk-reader.js';
export { LlamaCompletionAssembler } from './completion-assembler.js';
export { LLAMA_TAIL_TOKENS } from './completion-stream.js';
export { recoverWithheld } from './withheld-ids.js';
export { llamaSampling } from './sampling.js';
