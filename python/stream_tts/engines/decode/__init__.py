"""Decode loops of our own for the GPU models: NLLB-200's decoder and XTTS-v2's GPT.

Each loads its weights from the model the ordinary loader built (transformers, coqui-tts), keeps
a KV cache allocated once, and on CUDA captures each per-token step as a CUDA graph, so a token
costs one graph launch instead of hundreds of kernel launches. Graphs are captured and replayed
on one thread that the engine owns (`GpuThread`), whichever thread asks for a sentence. On CPU
and MPS the same step functions run eagerly; tests compare them with transformers' generate()
and coqui-tts' stream.
"""
