"""The ``prompt`` layout (GLiNER-Relex's joint layout): every relation label is read with
the text, in its prompt; a schema whose labels do not fit one prompt is read in several
passes over each text, and the scores merged."""

from __future__ import annotations

from kgbuild.extract.inference.layouts.base import Layout, Prompt, PromptBudget


class PromptLayout(Layout):
    name = "prompt"
    graph = "joint"

    def passes(
        self, budget: PromptBudget, entity_labels: list[str], relation_labels: list[str]
    ) -> list[Prompt]:
        return budget.joint_passes(entity_labels, relation_labels)
