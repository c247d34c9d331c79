"""The ``hybrid`` layout (the default): the joint layout's first pass, with the relation
labels that do not fit it appended after the text and read one way.

The first prompt holds the entity labels and the first group of relation labels, as the
joint layout's first pass does; the other relation labels follow the text in the same
pass, where they read the text at every layer and the text does not read them
(:meth:`~kgbuild.extract.model.network.JointExtractionModel.encode_one_way`, with the
``one_way_lora`` update on their rows). So entities and the first group's relations are
exactly the joint layout's, and a large schema costs one text pass plus its label
tokens: on 96 Re-DocRED relations 2.1x the joint layout's words/s with relation F1 up
(27.25 against 24.55), at 100 labels 0.56 of the speed of 7+7 (docs/performance.md).
A schema that fits one joint pass is read exactly as by the ``prompt`` layout.
"""

from __future__ import annotations

import numpy as np

from kgbuild.extract.inference.layouts.base import Layout, Prompt, PromptBudget
from kgbuild.extract.model.config import ExtractorConfig


class HybridLayout(Layout):
    name = "hybrid"
    graph = "hybrid"

    def passes(
        self, budget: PromptBudget, entity_labels: list[str], relation_labels: list[str]
    ) -> list[Prompt]:
        """The joint layout's first pass where the entity labels fit half the budget (the
        first group of relation labels beside them); else every entity label in one prompt
        (or as few as the budget allows) with the relation labels that still fit. A
        schema that fits one joint pass gets that pass."""
        joint = budget.joint_passes(entity_labels, relation_labels)
        if not relation_labels or len(joint) == 1:
            return joint
        encoder, tokens = budget.encoder, budget.tokens
        half = tokens // 2
        cost = encoder.label_tokens(entity_labels)
        groups = [entity_labels] if cost <= tokens else budget.groups(entity_labels, tokens)
        room = half if cost <= half else tokens - encoder.label_tokens(groups[0])
        first = budget.groups(relation_labels, max(room, 0))[0]
        if encoder.label_tokens(first) > room:  # one label longer than the room left
            first = []
        return [(groups[0], first), *((group, []) for group in groups[1:])]

    def one_way_labels(self, relation_labels: list[str], passes: list[Prompt]) -> list[str]:
        """The relation labels not in the first prompt (none when the schema fits one
        joint pass)."""
        if len(passes) == 1 and len(passes[0][1]) == len(relation_labels):
            return []
        return relation_labels[len(passes[0][1]) :]

    def relation_thresholds(
        self, config: ExtractorConfig, relation_labels: list[str], one_way: list[str]
    ) -> float | np.ndarray:
        """Prompt labels keep ``relation_threshold``; the labels read one way have the
        threshold picked for them on held-out dev labels (``hybrid_relation_threshold``)."""
        if not one_way:
            return config.relation_threshold
        one_way_threshold = config.hybrid_relation_threshold or config.relation_threshold
        n = len(relation_labels) - len(one_way)
        return np.array([config.relation_threshold] * n + [one_way_threshold] * len(one_way))
