"""What a relation-label layout is: the small interface every layout implements.

A layout decides how the labels of a schema reach the model beside each text:

* :meth:`Layout.passes`: the label prompts each text is read with (one encoder pass per
  prompt: (entity labels, relation labels) in that prompt);
* :meth:`Layout.one_way_labels`: the relation labels appended after the text instead
  and read one way (none: every relation label is in a prompt);
* :attr:`Layout.graph`: the ONNX graph variant that runs its first pass
  (:func:`~kgbuild.extract.inference.onnx_backend.exported_graph`); later passes, which
  hold entity labels only, run on the joint graph;
* :meth:`Layout.relation_thresholds`: the threshold of each relation label.

How a pass is collated and encoded follows from whether it reads a block of labels one
way (:func:`~kgbuild.extract.model.collation.collate_one_way`,
:meth:`~kgbuild.extract.model.network.JointExtractionModel.encode_one_way`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

from kgbuild.extract.model.config import ExtractorConfig
from kgbuild.extract.model.encoding import TextEncoder

#: At most this share of the window goes to labels; more labels mean more passes.
MAX_PROMPT_SHARE = 0.4

#: One pass's prompt: (entity labels, relation labels).
Prompt = tuple[list[str], list[str]]


class PromptBudget:
    """How many tokens of a window label prompts may take, and the labels cut to fit."""

    def __init__(self, encoder: TextEncoder, config: ExtractorConfig) -> None:
        self.encoder = encoder
        self.tokens = int(config.max_length * MAX_PROMPT_SHARE)

    def groups(self, labels: Sequence[str], budget: int) -> list[list[str]]:
        """Labels in order, cut into groups whose [marker] + tokens fit ``budget``."""
        out: list[list[str]] = [[]]
        used = 0
        for label in labels:
            cost = self.encoder.label_tokens([label])
            if out[-1] and used + cost > budget:
                out.append([])
                used = 0
            out[-1].append(label)
            used += cost
        return out

    def joint_passes(self, entity_labels: list[str], relation_labels: list[str]) -> list[Prompt]:
        """The joint layout's prompts: each kind gets half the budget per pass, the i-th
        pass holding the i-th group of entity labels and the i-th group of relation
        labels. (Packing one pass with as many labels of either kind as fit needs fewer
        passes, but 30 relation names in one prompt scored 11.09 triplet F1 on WebNLG's
        unseen relations against 12.99 with two passes of 15.)"""
        half = self.tokens // 2
        ent = self.groups(entity_labels, half)
        rel = self.groups(relation_labels, half)
        n = max(len(ent), len(rel))
        ent += [[]] * (n - len(ent))
        rel += [[]] * (n - len(rel))
        return list(zip(ent, rel, strict=True))

    def relation_groups(self, relation_labels: Sequence[str]) -> list[list[str]]:
        """Relation labels in the groups of the joint layout (half the budget each)."""
        return self.groups(relation_labels, self.tokens // 2)


class Layout(ABC):
    """One way for relation labels to reach the model (see the module's docstring)."""

    #: the name used in code, configs, the CLI and the docs
    name: str
    #: the ONNX graph variant of its first pass
    graph: str = "joint"

    @abstractmethod
    def passes(
        self, budget: PromptBudget, entity_labels: list[str], relation_labels: list[str]
    ) -> list[Prompt]:
        """The label prompts each text is read with."""

    def one_way_labels(self, relation_labels: list[str], passes: list[Prompt]) -> list[str]:
        """The relation labels read one way, after the text (default: none)."""
        return []

    def relation_thresholds(
        self, config: ExtractorConfig, relation_labels: list[str], one_way: list[str]
    ) -> float | np.ndarray:
        """The threshold of each relation label when the caller gives none: one for all,
        or (L,) one per label in ``relation_labels`` order."""
        return config.relation_threshold
