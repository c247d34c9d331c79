"""What a training run is: :class:`TrainConfig` (saved beside the checkpoint) and the
:class:`DataSpec` of each dataset of its mix."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from kgbuild.extract.model.config import ExtractorConfig

__all__ = ["DataSpec", "TrainConfig"]


class DataSpec(BaseModel):
    """One dataset of the training mix; paths are relative to ``TrainConfig.data_root``."""

    model_config = ConfigDict(extra="forbid")

    name: str
    format: str
    path: str
    types: str | None = None
    rel_info: str | None = None
    skip: int = 0
    limit: int | None = None
    #: examples drawn per epoch (None: all, in a new order each epoch)
    per_epoch: int | None = None
    #: re3d: the source folders to read (default: all)
    sources: list[str] | None = None
    #: CoNLL-style NER: the label phrases kept (default: all the file's types)
    labels: list[str] | None = None
    #: WebNLG: keep only these relations (held-out evaluation)
    only_relations: list[str] | None = None
    #: add silver entities from the teacher model for types the dataset does not annotate
    silver: bool = False
    #: add each relation's inverse phrasing, head and tail swapped, where one is known
    #: (``label_names.inverse_relation``)
    inverses: bool = False


class TrainConfig(BaseModel):
    """Everything a training run needs; saved beside the checkpoint."""

    model_config = ConfigDict(extra="forbid")

    model: ExtractorConfig = Field(default_factory=ExtractorConfig)
    #: ``joint``: train the model. ``one_way``: starting from ``init_from``, train only
    #: the update for the relation labels the ``hybrid`` layout reads one way, after the
    #: text (``JointExtractionModel.add_one_way_lora``, rank ``lora_rank``), everything
    #: else frozen: the joint layout's outputs stay the same
    stage: Literal["joint", "one_way"] = "joint"
    #: one_way stage: weight of matching the joint layout's relation probabilities on
    #: every pair (besides the gold relations)
    distill_weight: float = 1.0
    #: one_way stage: rank of the low-rank update
    lora_rank: int = 16
    #: one_way stage: weight of matching the joint layout's relation-label vectors
    #: themselves (squared error relative to their mean squared norm), for every label
    #: of every text
    vector_distill_weight: float = 0.0
    data_root: str = "../shared/datasets"
    train: list[DataSpec]
    dev: list[DataSpec] = Field(default_factory=list)
    fewrel_dir: str | None = "fewrel"
    output_dir: str = "runs/extractor"
    seed: int = 13
    epochs: int = 10
    lr_encoder: float = 8e-5
    lr_heads: float = 5e-4
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    batch_tokens: int = 2048
    max_sentences: int = 16
    max_entity_labels: int = 12
    max_relation_labels: int = 12
    max_distractors: int = 3
    #: label phrases never to use as distractors (e.g. a held-out dataset's labels)
    exclude_distractors: list[str] = Field(default_factory=list)
    drop_negative_prob: float = 0.15
    #: relation names held out of training entirely: texts stating them are skipped and
    #: they never appear as distractors (the unseen-relation benchmark's labels)
    exclude_relations: list[str] = Field(default_factory=list)
    #: relation names held out exactly like ``exclude_relations``, which
    #: ``benchmarks/zero_shot.py`` scores as unseen relations (the WebNLG draw of
    #: ``scripts/draw_heldout_relations.py``)
    benchmark_relations: list[str] = Field(default_factory=list)
    #: Wikidata property names + descriptions: a large pool of distractor relation labels
    relation_pool: str | None = "wikidata-properties/all_wikidata_properties.json"
    max_relation_distractors: int = 4
    #: chance that a label is shown in another phrasing (synonym, or name + description)
    label_variant_prob: float = 0.15
    #: chance that a training text is read written all in lower case (its word shapes
    #: then carry nothing, see ``casing_is_informative``), so the model learns to find
    #: names without capitals, as in search queries and chat
    lowercase_prob: float = 0.0
    #: loss weight of silver (teacher) entity labels
    silver_weight: float = 0.5
    #: start from this model folder instead of the bare encoder (continued training)
    init_from: str | None = None
    #: the config that produces ``init_from``: trained first when that folder is missing,
    #: so one command reproduces a multi-stage recipe
    init_config: str | None = None
    #: dev sets (by name) whose labels were held out of training: thresholds are picked on
    #: these so that they transfer to labels the model never saw (default: all dev sets)
    threshold_dev: list[str] = Field(default_factory=list)
    #: dev sets (names in ``dev``) whose relation names were all held out of training,
    #: on which the threshold of names the model never saw is picked
    #: (``unseen_relation_threshold``); empty: that threshold is not used
    unseen_threshold_dev: list[str] = Field(default_factory=list)
    #: dev sets (names in ``dev``) on which the threshold of entity types the model
    #: never trained on is picked, each set's types read as unseen
    #: (``unseen_entity_threshold``); empty: that threshold is not used
    unseen_entity_threshold_dev: list[str] = Field(default_factory=list)
    threshold_grid: list[float] = Field(default_factory=lambda: [0.2, 0.3, 0.4, 0.5, 0.6])
    max_pairs: int = 400
    focal_gamma: float = 1.0
    relation_loss_weight: float = 1.0
    dev_limit: int = 200
    #: steps between checkpoints within an epoch (0: at the end of each epoch only)
    checkpoint_every: int = 200
    #: torch threads of training and retuning (None: OMP_NUM_THREADS where set, else every
    #: core; two processes spinning on the same cores slow each other several times)
    num_threads: int | None = None


def training_threads(cfg: TrainConfig) -> int:
    """The torch threads of training and retuning: ``cfg.num_threads``, else
    ``OMP_NUM_THREADS`` where set (a user sharing the machine asked for it), else every
    core."""
    if cfg.num_threads:
        return cfg.num_threads
    env = os.environ.get("OMP_NUM_THREADS", "")
    return int(env) if env.isdigit() and int(env) > 0 else os.cpu_count() or 1
