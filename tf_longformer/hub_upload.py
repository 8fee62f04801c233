"""Upload models and tokenizers to the Hugging Face hub (`push_to_hub`; for `fit`: `keras_callbacks.py`).

Everything goes through `huggingface_hub.HfApi` (`create_repo`, `upload_folder`): the folder written by
`save_pretrained` is what the repository receives, so `transformers` (PyTorch) and `tf_longformer` load
the pushed repository alike.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

# Arguments of `push_to_hub` / `save_pretrained(push_to_hub=True)` that `upload_folder` takes.
_UPLOAD_ARGUMENTS = ("commit_message", "commit_description", "revision", "create_pr")


def _api(token: str | bool | None):
    import huggingface_hub

    return huggingface_hub.HfApi(token=token if isinstance(token, str) else None)


def _offline_error(err: Exception) -> OSError:
    return OSError(f"Cannot reach the Hugging Face hub ({type(err).__name__}: {err}). Unset HF_HUB_OFFLINE and "
                   "log in (`hf auth login`) or pass token=, or save locally with save_pretrained.")


def create_repo(repo_id: str, token: str | bool | None = None, private: bool | None = None) -> str:
    """Create the model repository `repo_id` if needed; returns its full id (`user/name`)."""
    from huggingface_hub.errors import OfflineModeIsEnabled

    try:
        return _api(token).create_repo(repo_id, private=private, exist_ok=True, repo_type="model").repo_id
    except OfflineModeIsEnabled as err:
        raise _offline_error(err) from None


def upload_folder(folder: str | os.PathLike, repo_id: str, token: str | bool | None = None,
                  private: bool | None = None, commit_message: str | None = None, **upload_kwargs: Any):
    """Create `repo_id` if needed and upload every file of `folder` to it in one commit.

    Args:
        folder: the local folder (a `save_pretrained` output).
        repo_id: `name` (in the user's namespace) or `organisation/name`.
        token: hub token (default: the logged-in user's).
        private: visibility of a newly created repository.
        commit_message: the commit's message.
        **upload_kwargs: `commit_description`, `revision`, `create_pr`.

    Returns:
        `huggingface_hub.CommitInfo` of the commit.

    Raises:
        OSError: the hub cannot be reached (offline mode, no network).
    """
    from huggingface_hub.errors import OfflineModeIsEnabled

    full_id = create_repo(repo_id, token=token, private=private)
    try:
        return _api(token).upload_folder(repo_id=full_id, folder_path=os.fspath(folder), repo_type="model",
                                         commit_message=commit_message or "Upload with tf_longformer",
                                         **upload_kwargs)
    except OfflineModeIsEnabled as err:
        raise _offline_error(err) from None


class PushToHubMixin:
    """`push_to_hub` for anything with `save_pretrained` (models, tokenizers)."""

    def _save_for_hub(self, folder: str, max_shard_size: int | str) -> None:
        self.save_pretrained(folder)

    def _upload_folder(self, folder: str | os.PathLike, repo_id: str, token: str | bool | None = None,
                       private: bool | None = None, **kwargs: Any):
        upload_kwargs = {k: kwargs.pop(k) for k in _UPLOAD_ARGUMENTS if k in kwargs}
        kwargs.pop("use_temp_dir", None)
        if kwargs:
            raise TypeError(f"push_to_hub got unexpected argument(s) {sorted(kwargs)}.")
        return upload_folder(folder, repo_id, token=token, private=private, **upload_kwargs)

    def push_to_hub(self, repo_id: str, use_temp_dir: bool | None = None, commit_message: str | None = None,
                    private: bool | None = None, token: str | bool | None = None, max_shard_size: int | str = "5GB",
                    create_pr: bool = False, revision: str | None = None, commit_description: str | None = None,
                    use_auth_token: str | bool | None = None, **kwargs: Any):
        """Save into a temporary folder and upload it to the hub repository `repo_id` (created if needed).

        Args:
            repo_id: `name` or `organisation/name`.
            use_temp_dir: accepted for transformers-4 compatibility (a temporary folder is always used).
            commit_message, commit_description, revision, create_pr: of the hub commit.
            private: visibility of a newly created repository.
            token: hub token (`use_auth_token` is its old name).
            max_shard_size: largest weight file (models only).

        Returns:
            `huggingface_hub.CommitInfo`.

        Example:
            >>> model.push_to_hub("my-user/longformer-finetuned")  # doctest: +SKIP
        """
        if kwargs:
            raise TypeError(f"push_to_hub got unexpected argument(s) {sorted(kwargs)}.")
        token = token if token is not None else use_auth_token
        with tempfile.TemporaryDirectory() as folder:
            self._save_for_hub(folder, max_shard_size)
            return upload_folder(folder, repo_id, token=token, private=private,
                                 commit_message=commit_message or f"Upload {type(self).__name__}",
                                 commit_description=commit_description, revision=revision, create_pr=create_pr)
