/**
 * The runs of a request with media (docs/multimodal.md): every segment (thinking, extensions,
 * the answer, early-exit probes) goes out through the backend's streamWithMedia with the rendered
 * media, so the engine drives it exactly as a text run, by token ids. What each segment sends
 * on top of a text segment (the processed media, resent every time) is counted against the
 * request's upstream allowance.
 */
import type { Backend, MediaPrompt } from '../engine/backend.js';
import { InternalError } from '../errors.js';
import { withStreamCompletion } from './stream-wrapper.js';
import type { UpstreamAllowance } from './upstream-allowance.js';

export function withMedia(backend: Backend, media: MediaPrompt, allowance: UpstreamAllowance): Backend {
  const stream = backend.streamWithMedia?.bind(backend);
  // renderChat and streamWithMedia come together: a backend that rendered the media streams it.
  if (stream === undefined) throw new InternalError(`The upstream ${backend.name} rendered media it cannot stream.`);
  return withStreamCompletion(backend, (req, signal) => {
    allowance.spend(media.bytes);
    return stream(req, media, signal);
  });
}
