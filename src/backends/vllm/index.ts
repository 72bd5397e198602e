/** The vLLM backend: the engine's Backend port over vLLM's OpenAI server. */
export { VllmBackend, type VllmBackendOptions, type VllmTimeouts } from './client.js';
export { SseDecoder, sseData, SSE_DONE, DEFAULT_MAX_EVENT_CHARS, type SseDecoderOptions } from '../sse.js';
export { CompletionChunkReader, TOKEN_IDS_REQUIRED_MESSAGE } from './chunk-reader.js';
export { mapUpstreamStatus, mapStreamErrorEvent, mapTransportError, parseErrorBody, isContextLengthMessage } from '../upstream-errors.js';
export * from './schemas.js';
