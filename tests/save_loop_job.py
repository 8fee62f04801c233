"""Subprocess job for tests/test_atomic_save.py: saves two different checkpoints into one folder in turn, until
killed.

Usage:
    python tests/save_loop_job.py save_pretrained FOLDER REF_A REF_B
        two TFLongformerModel of 3 and 4 layers; writes each once to REF_A / REF_B, then alternates in FOLDER.
    python tests/save_loop_job.py elongate FOLDER REF_A REF_B SOURCE
        `converters.elongate` of SOURCE to 800 and 1600 positions (numpy only: starts in a fraction of a second).
    python tests/save_loop_job.py hold-temporary FOLDER
        creates a locked temporary beside FOLDER, as a save in progress does, and waits.

It prints "ready" once FOLDER holds a whole checkpoint, then "saved" after each save.
"""

from __future__ import annotations

import os
import sys
import time


def _savers(mode: str, args: list[str]):
    if mode == "elongate":
        from converters.elongate import elongate

        source = args[0]
        return [lambda folder, n=n: elongate(source, folder, max_length=n, overwrite=True) for n in (800, 1600)]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    import tf_longformer
    from tests.conftest import TINY_CONFIG

    models = []
    for seed, layers in ((0, 3), (1, 4)):
        keras.utils.set_random_seed(seed)
        config = tf_longformer.LongformerConfig(**{**TINY_CONFIG, "num_hidden_layers": layers, "vocab_size": 4000})
        models.append(tf_longformer.TFLongformerModel(config))
        models[-1](input_ids=[[0, 5, 6, 2]])
    return [model.save_pretrained for model in models]


def main(mode: str, folder: str, *args: str) -> None:
    if mode == "hold-temporary":
        from converters.atomic import new_temporary_folder

        parent, name = os.path.split(os.path.abspath(folder))
        path, _ = new_temporary_folder(parent, name)
        with open(os.path.join(path, "model.safetensors"), "wb") as fh:
            fh.write(b"\0" * 4096)
        print("ready", flush=True)
        time.sleep(600)
        return
    refs, rest = args[:2], list(args[2:])
    savers = _savers(mode, rest)
    for save, ref in zip(savers, refs, strict=True):
        if not os.path.exists(ref):
            save(ref)
    savers[0](folder)
    print("ready", flush=True)
    for turn in range(10**9):
        savers[(turn + 1) % 2](folder)
        print("saved", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
