/** What the suite's globalSetup hands to the tests: one entry per real server under test. */
export interface RealBackend {
  kind: 'vllm' | 'llamacpp';
  label: string;
  url: string;
  model: string;
  /** Started by the suite (the tiny model, known vocabulary) or someone's own vLLM. */
  managed: boolean;
}

declare module 'vitest' {
  export interface ProvidedContext {
    realBackends: RealBackend[];
    /**
     * llama-server on Gemma 3 270M (test/real/fetch-gemma.sh), for non-ASCII text with a real
     * SentencePiece vocabulary (non-ascii.real.ts); null when THINKGATE_REAL_GEMMA_GGUF is unset.
     */
    realGemma: RealBackend | null;
    /**
     * vLLM on a tiny random vision-language model (make-tiny-vl-model.py) with --enable-scale-out,
     * for media parts (multimodal.real.ts); null when THINKGATE_REAL_VL_DIR is unset.
     */
    realVl: RealBackend | null;
  }
}
