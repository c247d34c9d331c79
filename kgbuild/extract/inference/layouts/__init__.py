"""Relation-label layouts, chosen by name through one registry.

``prompt`` (:mod:`.prompt`) reads every relation label with the text; ``hybrid``
(:mod:`.hybrid`, the default) reads the first group with the text and the rest one way
after it. Both implement :class:`~.base.Layout`.
"""

from __future__ import annotations

from kgbuild.extract.inference.layouts.base import (
    MAX_PROMPT_SHARE,
    Layout,
    Prompt,
    PromptBudget,
)
from kgbuild.extract.inference.layouts.hybrid import HybridLayout
from kgbuild.extract.inference.layouts.prompt import PromptLayout

__all__ = [
    "LAYOUTS",
    "MAX_PROMPT_SHARE",
    "HybridLayout",
    "Layout",
    "Prompt",
    "PromptBudget",
    "PromptLayout",
    "get_layout",
]

#: Layout name -> the layout (names as :data:`kgbuild.extract.options.LayoutName`).
LAYOUTS: dict[str, Layout] = {layout.name: layout for layout in (PromptLayout(), HybridLayout())}

#: The ONNX graph variants the layouts run on.
GRAPHS = tuple(dict.fromkeys(layout.graph for layout in LAYOUTS.values()))


def get_layout(name: str) -> Layout:
    """The layout registered as ``name``.

    Raises:
        ValueError: no layout has that name.
    """
    try:
        return LAYOUTS[name]
    except KeyError:
        raise ValueError(
            f"unknown relation-label layout {name!r}: use {', '.join(LAYOUTS)}"
        ) from None
