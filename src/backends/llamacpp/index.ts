/** The llama.cpp backend: the engine's Backend port over llama.cpp's llama-server. */
export { LlamaCppBackend, type LlamaCppBackendOptions } from './client.js';
export { LlamaChunkReader, WITHHELD_IDS_MESSAGE } from './chunk-reader.js';
export { llamaSampling } from './sampling.js';
