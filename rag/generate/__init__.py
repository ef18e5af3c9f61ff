"""Generate: a prompt -> streamed answer text.

Takes a `Prompt` (chat messages plus the passages as shown); gives pieces of text. `base`
holds the `Generator` interface; `transformers_lm` the local language model's passes
(generation, `copy_span`'s copying), `transformers_load` how it is loaded (bundled GGUF files in
`model_files`, int8 weights in `quantization`); `extractive` the answerer that needs no model.
"""
