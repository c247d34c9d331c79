"""A small deterministic extractor for pipeline tests (no model, no randomness).

Entities: runs of capitalized words, typed by a tiny gazetteer of suffixes
("Inc", "Corp" -> organization; known cities -> location; else person).
Relations: 'works for' from a person to the next organization in the text,
'located in' from an organization to the next location.
Tokens: whitespace-separated words, so chunk budgets are easy to check.
"""

from __future__ import annotations

import re

from kgbuild.extract.base import ExtractedEntity, ExtractedRelation, Extraction

_NAME = re.compile(r"[A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*)*", re.UNICODE)
_ORG_SUFFIX = ("Inc", "Inc.", "Corp", "Corp.", "Ltd", "Ltd.", "Company", "University")
_PLACES = {"Paris", "London", "Berlin", "Tokyo", "Zürich", "München", "東京", "New York"}


class FakeExtractor:
    model_id = "fake-regex-1"

    def __init__(self, window: int = 64) -> None:
        self.window = window

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        return [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]

    def max_text_tokens(self, entity_types: list[str], relation_types: list[str]) -> int:
        return self.window - len(entity_types) - len(relation_types)

    def _type(self, name: str) -> str:
        if name.split()[-1] in _ORG_SUFFIX:
            return "organization"
        if name in _PLACES:
            return "location"
        return "person"

    def extract(
        self, texts, entity_types, relation_types, *, entity_threshold=None, relation_threshold=None
    ) -> list[Extraction]:
        out = []
        for text in texts:
            ents = []
            for m in _NAME.finditer(text):
                name = m.group(0).rstrip(".")
                label = self._type(name)
                if label in entity_types:
                    ents.append(
                        ExtractedEntity(
                            start=m.start(),
                            end=m.start() + len(name),
                            text=name,
                            label=label,
                            score=0.9,
                        )
                    )
            rels = []
            pairs = [
                ("person", "organization", "works for"),
                ("organization", "location", "located in"),
            ]
            for i, e in enumerate(ents):
                for head_type, tail_type, rel in pairs:
                    if e.label != head_type or rel not in relation_types:
                        continue
                    for j in range(i + 1, len(ents)):
                        if ents[j].label == tail_type:
                            rels.append(ExtractedRelation(head=i, tail=j, label=rel, score=0.8))
                            break
            out.append(Extraction(entities=ents, relations=rels))
        return out
