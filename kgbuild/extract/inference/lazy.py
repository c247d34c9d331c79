"""An extractor checkpoint that loads only when it is first needed.

Loading the joint model (torch, transformers, the weights) takes seconds, and an
ingest where nothing changed never needs it: the pipeline compares content
hashes and model ids, and the model id is read from the checkpoint's
``config.json`` without importing torch. :class:`LazyExtractor` follows the
:class:`~kgbuild.extract.base.Extractor` protocol and builds the real
:class:`~kgbuild.extract.inference.extractor.JointExtractor` on the first call that needs
the model or its tokenizer (``token_spans``, ``max_text_tokens``, ``extract``, or
any other attribute of the loaded extractor).

This module imports neither torch nor transformers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kgbuild.extract.base import Extraction
from kgbuild.extract.options import ExtractorOptions, checkpoint_model_id, default_model_dir

if TYPE_CHECKING:
    from kgbuild.extract.inference.extractor import JointExtractor
    from kgbuild.schema import RelationConstraint

__all__ = ["LazyExtractor", "checkpoint_model_id"]

logger = logging.getLogger(__name__)


class LazyExtractor:
    """A :class:`~kgbuild.extract.inference.extractor.JointExtractor` checkpoint, loaded on
    first use.

    ``model_id`` is known at once (from ``config.json``); everything else loads the
    model first (thread-safe, once). Attributes of the loaded extractor (``model``,
    ``config``, ``predict``, ...) are reachable through this object too.

    Example::

        extractor = LazyExtractor()          # the shipped checkpoint; nothing loaded yet
        extractor.model_id                   # 'kgbuild-relex-minilm', still nothing loaded
        extractor.extract(["Tim Cook leads Apple."], ["person", "organization"], [])
        extractor.loaded                     # True

    Args:
        options: how to load and run it (:class:`~kgbuild.extract.options.ExtractorOptions`;
            ``options.model`` None: the checkpoint shipped with kgbuild). Resolved now
            (environment variables read), since ``model_id`` depends on ``int8``.
    """

    def __init__(self, options: ExtractorOptions | None = None) -> None:
        self.options = (options or ExtractorOptions()).resolved()
        self.directory = Path(self.options.model or default_model_dir())
        self.model_id: str = checkpoint_model_id(self.directory, int8=bool(self.options.int8))
        self._extractor: JointExtractor | None = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, object]:
        """Pickled unloaded (e.g. to Ray workers, which load the weights themselves).

        The shipped checkpoint travels as "the default", so a worker machine loads the
        copy inside its own kgbuild installation.
        """
        default = self.directory.resolve() == default_model_dir().resolve()
        options = self.options.model_copy(update={"model": None if default else self.directory})
        return {"options": options.model_dump()}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__init__(ExtractorOptions.model_validate(state["options"]))  # type: ignore[misc]

    @property
    def loaded(self) -> bool:
        """Whether the model has been loaded."""
        return self._extractor is not None

    def load(self) -> JointExtractor:
        """The loaded extractor (loading it now if it is not yet).

        Raises:
            RuntimeError: if the loaded model's id differs from the one promised by
                ``config.json`` (the folder changed between the two reads).
        """
        if self._extractor is None:
            with self._lock:
                if self._extractor is None:
                    from kgbuild.extract.inference.extractor import JointExtractor

                    t0 = time.perf_counter()
                    extractor = JointExtractor.from_pretrained(self.directory, options=self.options)
                    if extractor.model_id != self.model_id:
                        raise RuntimeError(
                            f"extractor in {self.directory} loaded as {extractor.model_id!r}, "
                            f"but its config.json named {self.model_id!r}: did the folder change?"
                        )
                    logger.info(
                        "loaded extractor %s from %s in %.1f s",
                        self.model_id,
                        self.directory,
                        time.perf_counter() - t0,
                    )
                    self._extractor = extractor
        return self._extractor

    # -- Extractor protocol -------------------------------------------------------------------

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the model's tokens in ``text`` (loads the model)."""
        return self.load().token_spans(text)

    def max_text_tokens(self, entity_types: list[str], relation_types: list[str]) -> int:
        """How many text tokens fit in one window beside these labels (loads the model)."""
        return self.load().max_text_tokens(entity_types, relation_types)

    def extract(
        self,
        texts: list[str],
        entity_types: list[str],
        relation_types: list[str],
        *,
        entity_threshold: float | None = None,
        relation_threshold: float | None = None,
        symmetric_relations: list[str] | None = None,
        relation_constraints: Mapping[str, RelationConstraint] | None = None,
    ) -> list[Extraction]:
        """``JointExtractor.extract`` (loads the model)."""
        return self.load().extract(
            texts,
            entity_types,
            relation_types,
            entity_threshold=entity_threshold,
            relation_threshold=relation_threshold,
            symmetric_relations=symmetric_relations,
            relation_constraints=relation_constraints,
        )

    def __getattr__(self, name: str) -> Any:
        # Only called for names this object lacks: the loaded extractor's attributes.
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.load(), name)

    def __repr__(self) -> str:
        state = "loaded" if self.loaded else "not loaded"
        return f"LazyExtractor({str(self.directory)!r}, model_id={self.model_id!r}, {state})"
