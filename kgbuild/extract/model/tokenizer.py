"""The base encoder's tokenizer, loaded without importing transformers where it can be.

A Hugging Face model folder with a ``tokenizer.json`` holds the whole fast tokenizer;
the ``tokenizers`` library reads it in milliseconds, while importing transformers to
wrap it took half a second of every start-up (a one-file ``kgbuild ingest`` pays it on
every run that finds a change). :class:`FastTokenizer` is that Rust tokenizer with the
few parts of transformers' interface :class:`~kgbuild.extract.model.encoding.TextEncoder`
uses; a folder without ``tokenizer.json`` gets transformers' ``AutoTokenizer``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["FastTokenizer", "load_tokenizer"]


class FastTokenizer:
    """A ``tokenizers.Tokenizer`` called as a transformers fast tokenizer is called.

    Calls give ``{"input_ids": [...]}`` (and ``"offset_mapping"`` when asked) for one
    text, with the tokenizer file's own truncation and padding switched off, as
    transformers does unless a call asks for them.
    """

    is_fast = True

    def __init__(self, backend: Any, special_tokens: dict[str, str]) -> None:
        self.backend_tokenizer = backend
        self._call = backend.__class__.from_str(backend.to_str())
        self._call.no_truncation()
        self._call.no_padding()
        vocab = backend.get_vocab()
        self.cls_token_id = vocab.get(special_tokens.get("cls_token", "[CLS]"))
        self.sep_token_id = vocab.get(special_tokens.get("sep_token", "[SEP]"))
        self.unk_token_id = vocab.get(special_tokens.get("unk_token", "[UNK]"))
        self.pad_token_id = vocab.get(special_tokens.get("pad_token", "[PAD]"))

    def get_vocab(self) -> dict[str, int]:
        return self.backend_tokenizer.get_vocab()

    def __call__(
        self,
        text: str | list[str],
        add_special_tokens: bool = True,
        return_offsets_mapping: bool = False,
        **_: Any,
    ) -> dict[str, list]:
        """One text: ``{"input_ids": [...]}``; a list of texts: a list per key."""
        if isinstance(text, list):
            encodings = self._call.encode_batch(text, add_special_tokens=add_special_tokens)
        else:
            encodings = [self._call.encode(text, add_special_tokens=add_special_tokens)]
        out: dict[str, list] = {"input_ids": [list(e.ids) for e in encodings]}
        if return_offsets_mapping:
            out["offset_mapping"] = [[tuple(o) for o in e.offsets] for e in encodings]
        if not isinstance(text, list):
            out = {key: value[0] for key, value in out.items()}
        return out


def load_tokenizer(encoder_path: str | Path) -> Any:
    """The fast tokenizer of the base encoder in ``encoder_path``: a :class:`FastTokenizer`
    from its ``tokenizer.json``, else transformers' ``AutoTokenizer``."""
    folder = Path(encoder_path)
    if (folder / "tokenizer.json").is_file():
        from tokenizers import Tokenizer

        special: dict[str, str] = {}
        for name in ("tokenizer_config.json", "special_tokens_map.json"):
            path = folder / name
            if path.is_file():
                data = json.loads(path.read_text(encoding="utf-8"))
                for key, value in data.items():
                    if key.endswith("_token"):
                        # a token is a string or {"content": ...} (an AddedToken)
                        special[key] = value["content"] if isinstance(value, dict) else value
        return FastTokenizer(Tokenizer.from_file(str(folder / "tokenizer.json")), special)
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(folder))
