"""Checkpoint formats in, named numpy arrays out.

This package knows file formats (safetensors, PyTorch ``.bin``, transformers-4 TF ``.h5``) and the
Hugging Face PyTorch naming of Longformer tensors. It never imports Keras models: the library calls
it, not the other way round.
"""
