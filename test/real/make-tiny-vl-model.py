"""
Makes the real-server suite's vision-language model: a tiny RANDOM Qwen2-VL
(Qwen2VLForConditionalGeneration) with the real Qwen3 tokenizer and chat template, as a Hugging
Face folder for vLLM. Seeded, so the same bytes every run; a few seconds; never committed, made
at test time (.ci/real.sh). It proves multimodal requests end to end (image parts, the expanded
<|image_pad|> run, render/generate, prefix caching of image blocks), not any answer quality.

usage: <vLLM venv python> test/real/make-tiny-vl-model.py <dir with tokenizer.json + tokenizer_config.json> <out dir>

Why Qwen2-VL: vLLM's Qwen2-VL loads on the CPU with plain SDPA vision attention, and the Qwen3
vocabulary already has its special tokens (<|vision_start|> 151652, <|vision_end|> 151653,
<|image_pad|> 151655, <|video_pad|> 151656), so the Qwen3 tokenizer serves it unchanged.
The chat template is Qwen3's own: it takes string content, so vLLM flattens a message's parts
into one string, every image's <|vision_start|><|image_pad|><|vision_end|> first, then the text
parts, joined by newlines; the processor expands each <|image_pad|> to one per 28x28 square.
"""
import json
import shutil
import sys
import time
from pathlib import Path

import torch
from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration

SEED = 20240917

# Qwen3 ids of the Qwen2-VL special tokens (checked against tokenizer.json below).
SPECIAL = {
    '<|vision_start|>': 151652,
    '<|vision_end|>': 151653,
    '<|image_pad|>': 151655,
    '<|video_pad|>': 151656,
}

# The image processor's pixel bounds. 28 = patch 14 x merge 2: an image is resized to multiples
# of 28 px with min..max pixels, and each 28x28 square is one <|image_pad|> token. 56x56 (4
# tokens) .. 224x224 (64 tokens): a 64x64 test image becomes 56x56, 4 tokens; a small max also
# keeps vLLM's startup profiling (a max-size dummy image per allowed image) quick.
MIN_PIXELS = 56 * 56
MAX_PIXELS = 224 * 224


def main(tok_dir: Path, out: Path) -> None:
    t0 = time.time()
    tok = json.loads((tok_dir / 'tokenizer.json').read_text())
    ids = {a['content']: a['id'] for a in tok['added_tokens']}
    for name, i in SPECIAL.items():
        if ids.get(name) != i:
            raise SystemExit(f'{name} is {ids.get(name)} in this tokenizer, expected {i}')

    config = Qwen2VLConfig(
        text_config=dict(
            vocab_size=151936,  # Qwen3's embedding rows (ids up to 151668 used; padded as the real models)
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            # head_dim = 64 / 2 = 32, as the text model's: vLLM's CPU attention kernel refuses
            # small head sizes ("Unsupported CPU attention configuration: head_dim=16").
            num_attention_heads=2,
            num_key_value_heads=1,  # GQA as the real models
            max_position_embeddings=32768,
            rms_norm_eps=1e-6,
            # M-RoPE: half of head_dim (16) split into temporal/height/width sections, scaled
            # down from Qwen2-VL's [16, 24, 24] of 64.
            rope_parameters=dict(rope_type='default', rope_theta=1000000.0, mrope_section=[4, 6, 6]),
            bos_token_id=151643,
            eos_token_id=151645,
            tie_word_embeddings=False,
        ),
        vision_config=dict(
            depth=1,  # one ViT block: enough for the image to shape the embeddings
            embed_dim=32,
            num_heads=2,  # vision head_dim 16: the ViT runs on torch SDPA, which takes any size
            mlp_ratio=4,
            hidden_size=64,  # the merger's output = the text hidden size
            in_channels=3,
            patch_size=14,
            spatial_merge_size=2,
            temporal_patch_size=2,
        ),
        image_token_id=SPECIAL['<|image_pad|>'],
        video_token_id=SPECIAL['<|video_pad|>'],
        vision_start_token_id=SPECIAL['<|vision_start|>'],
        vision_end_token_id=SPECIAL['<|vision_end|>'],
        tie_word_embeddings=False,
    )
    torch.manual_seed(SEED)
    model = Qwen2VLForConditionalGeneration(config).to(torch.float32).eval()
    # Re-draw every matrix from one seeded generator, in name order. transformers' default
    # N(0, 0.02) makes each layer's output tiny next to the residual stream, so the next token
    # depends on the last token alone: two images gave the same greedy answer. N(0, 1/fan_in)
    # keeps every layer's output at unit scale, so the answer depends on the whole prompt, the
    # image included: two 64x64 images under a short question give different greedy answers (in
    # a ~360-id prompt a 4-token image is lost; a 224x224 one, 64 tokens, still tells). Norm
    # weights stay 1, biases 0.
    with torch.no_grad():
        g = torch.Generator().manual_seed(SEED)
        for name, p in sorted(model.named_parameters()):
            if p.dim() >= 2:
                fan_in = p[0].numel()
                std = 1.0 if 'embed_tokens' in name else fan_in ** -0.5
                p.copy_(torch.randn(p.shape, generator=g) * std)

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    model.save_pretrained(out, safe_serialization=True)
    # No sampling defaults in generation_config.json: vLLM would take them as the requests'
    # defaults (as for the text model, the suite sends its own).
    (out / 'generation_config.json').write_text(json.dumps(
        {'bos_token_id': 151643, 'eos_token_id': [151645, 151643], 'pad_token_id': 151643}, indent=2) + '\n')
    for f in ('tokenizer.json', 'tokenizer_config.json'):
        shutil.copyfile(tok_dir / f, out / f)
    # Qwen2-VL's image processor (transformers runs it on torchvision, which vLLM's Qwen2-VL
    # module needs anyway: install-vllm-cpu.sh). Mean/std are CLIP's, as the real model's.
    pre = {
        'image_processor_type': 'Qwen2VLImageProcessor',
        'processor_class': 'Qwen2VLProcessor',
        'min_pixels': MIN_PIXELS,
        'max_pixels': MAX_PIXELS,
        'patch_size': 14,
        'temporal_patch_size': 2,
        'merge_size': 2,
        'image_mean': [0.48145466, 0.4578275, 0.40821073],
        'image_std': [0.26862954, 0.26130258, 0.27577711],
        'do_resize': True,
        'do_rescale': True,
        'do_normalize': True,
        'do_convert_rgb': True,
        'resample': 3,
        'rescale_factor': 1 / 255,
    }
    (out / 'preprocessor_config.json').write_text(json.dumps(pre, indent=2) + '\n')
    print(f'tiny VL model: {out} in {time.time() - t0:.1f} s')


if __name__ == '__main__':
    if len(sys.argv) != 3:
        raise SystemExit('usage: python make-tiny-vl-model.py <tokenizer dir> <out dir>')
    main(Path(sys.argv[1]), Path(sys.argv[2]))
