"""`PushToHubCallback`: push the model to the Hugging Face hub during `fit` (transformers 4's callback)."""

from __future__ import annotations

import json
import os
from typing import Any

import keras

from .hub_upload import create_repo, upload_folder


class PushToHubCallback(keras.callbacks.Callback):
    """Save the model (and tokenizer) into `output_dir` during `fit` and push the folder to the hub.

    transformers 4's `PushToHubCallback` with its arguments: by default after every epoch, with
    `save_strategy="steps"` every `save_steps` batches, and once more when training ends.

    Args:
        output_dir: local folder kept in sync with the repository.
        save_strategy: `"epoch"`, `"steps"` or `"no"` (only at the end).
        save_steps: batches between pushes with `"steps"`.
        tokenizer: saved beside the model when given.
        hub_model_id: repository id (default: the name of `output_dir`).
        hub_token: hub token (default: the logged-in user's).
        checkpoint: also keep `output_dir/checkpoint/model.keras` (weights and optimizer state, to resume
            with `keras.saving.load_model`); `"epoch"` strategy only.
        **model_card_args: written into the repository's README.md (e.g. `language`, `license`).

    Example:
        >>> model.fit(data, epochs=3, callbacks=[PushToHubCallback("out", tokenizer=tok)])  # doctest: +SKIP
    """

    def __init__(self, output_dir: str | os.PathLike, save_strategy: str = "epoch", save_steps: int | None = None,
                 tokenizer=None, hub_model_id: str | None = None, hub_token: str | None = None,
                 checkpoint: bool = False, **model_card_args: Any) -> None:
        super().__init__()
        save_strategy = str(getattr(save_strategy, "value", save_strategy)).lower()
        if save_strategy not in ("epoch", "steps", "no"):
            raise ValueError(f"save_strategy must be 'epoch', 'steps' or 'no', got {save_strategy!r}.")
        if checkpoint and save_strategy != "epoch":
            raise ValueError("checkpoint=True needs save_strategy='epoch'.")
        if save_strategy == "steps" and (isinstance(save_steps, bool) or not isinstance(save_steps, int)
                                         or save_steps <= 0):
            raise ValueError("save_strategy='steps' needs a positive integer save_steps.")
        self.output_dir = os.fspath(output_dir)
        self.save_strategy = save_strategy
        self.save_steps = save_steps
        self.tokenizer = tokenizer
        self.hub_token = hub_token
        self.checkpoint = checkpoint
        self.model_card_args = model_card_args
        self.hub_model_id = create_repo(hub_model_id or os.path.basename(os.path.abspath(self.output_dir)),
                                        token=hub_token)
        self.training_history: list[dict] = []

    def _push(self, commit_message: str) -> None:
        self.model.save_pretrained(self.output_dir)
        if self.tokenizer is not None:
            self.tokenizer.save_pretrained(self.output_dir)
        with open(os.path.join(self.output_dir, "README.md"), "w", encoding="utf-8") as f:
            f.write(_model_card(self.hub_model_id, type(self.model).__name__, self.training_history,
                                self.model_card_args))
        upload_folder(self.output_dir, self.hub_model_id, token=self.hub_token, commit_message=commit_message)

    def on_train_begin(self, logs=None) -> None:
        self.training_history = []

    def on_train_batch_end(self, batch, logs=None) -> None:
        if self.save_strategy == "steps" and (batch + 1) % self.save_steps == 0:
            self._push(f"Training in progress steps {batch}")

    def on_epoch_end(self, epoch, logs=None) -> None:
        self.training_history.append({"epoch": epoch, **{k: float(v) for k, v in (logs or {}).items()}})
        if self.save_strategy == "epoch":
            if self.checkpoint:
                folder = os.path.join(self.output_dir, "checkpoint")
                os.makedirs(folder, exist_ok=True)
                self.model.save(os.path.join(folder, "model.keras"))
            self._push(f"Training in progress epoch {epoch}")

    def on_train_end(self, logs=None) -> None:
        self._push("End of training")


def _model_card(repo_id: str, model_class: str, history: list[dict], card_args: dict) -> str:
    front = "\n".join(f"{k}: {json.dumps(v)}" for k, v in sorted(card_args.items()))
    lines = [f"---\nlibrary_name: tf_longformer\n{front}\n---".replace("\n\n", "\n"), "",
             f"# {repo_id}", "", f"A `{model_class}` trained with Keras (tf_longformer).", ""]
    if history:
        keys = list(history[-1])
        lines += ["## Training results", "", "| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
        lines += ["| " + " | ".join(f"{row.get(k, ''):.4g}" if isinstance(row.get(k), float) else str(row.get(k, ""))
                                    for k in keys) + " |" for row in history]
    return "\n".join(lines) + "\n"
