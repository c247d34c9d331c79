"""Entity and relation types, as the user names them, and their graph labels.

Types are natural-language phrases ("person", "works for") because the
extractor reads them as text. In the graph they become a node label
(``Person``, ``WorkOfArt``) or a relationship type (``WORKS_FOR``). Every name
is validated here, once, so the stores can put labels into query text safely:
values always travel as parameters, and labels only after this check.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: What a type phrase may contain: letters, digits, spaces, '-', '_', '/' and '.'.
_PHRASE = re.compile(r"^[A-Za-z][A-Za-z0-9 _\-/.]{0,63}$")
#: What a graph label or relationship type may be after mapping.
SAFE_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")

#: Labels the graph uses for its own nodes; entity types may not take them.
RESERVED_LABELS = frozenset({"Entity", "Document", "Chunk", "Mention"})
#: Relationship types the graph uses for provenance; relation types may not take them.
RESERVED_TYPES = frozenset({"PART_OF_DOCUMENT", "NEXT", "IN_CHUNK", "REFERS_TO", "PART_OF"})

DEFAULT_ENTITY_TYPES = [
    "person",
    "organization",
    "location",
    "date",
    "event",
    "product",
    "work of art",
]
DEFAULT_RELATION_TYPES = [
    "works for",
    "located in",
    "founded by",
    "is part of",  # "part of" would map to PART_OF, the chunk -> document edge
    "born in",
    "member of",
    "created by",
]


class InvalidTypeName(ValueError):
    """A type name that cannot become a graph label safely."""


def validate_phrase(phrase: str, kind: str = "type") -> str:
    """Return the phrase with whitespace collapsed, or raise :class:`InvalidTypeName`."""
    if not isinstance(phrase, str):
        raise InvalidTypeName(f"{kind} {phrase!r} is not a string")
    cleaned = " ".join(phrase.split())
    if not _PHRASE.match(cleaned):
        raise InvalidTypeName(
            f"{kind} {phrase!r} is not allowed: use letters, digits, spaces, '-', '_', '/' or '.' "
            "(starting with a letter, at most 64 characters)"
        )
    return cleaned


def _words(phrase: str) -> list[str]:
    return [w for w in re.split(r"[^A-Za-z0-9]+", phrase) if w]


def entity_label(entity_type: str) -> str:
    """Node label of an entity type: 'work of art' -> 'WorkOfArt'."""
    words = _words(validate_phrase(entity_type, "entity type"))
    label = "".join(w[:1].upper() + w[1:] for w in words)
    if not SAFE_IDENTIFIER.match(label) or label in RESERVED_LABELS:
        raise InvalidTypeName(f"entity type {entity_type!r} maps to a reserved or invalid label")
    return label


def relation_label(relation_type: str) -> str:
    """Relationship type of a relation phrase: 'works for' -> 'WORKS_FOR'."""
    words = _words(validate_phrase(relation_type, "relation type"))
    label = "_".join(w.upper() for w in words)
    if not SAFE_IDENTIFIER.match(label) or label in RESERVED_TYPES:
        raise InvalidTypeName(f"relation type {relation_type!r} maps to a reserved or invalid type")
    return label


class Schema(BaseModel):
    """The entity and relation types to extract, named as phrases."""

    model_config = ConfigDict(extra="forbid")

    entity_types: list[str] = Field(default_factory=lambda: list(DEFAULT_ENTITY_TYPES))
    relation_types: list[str] = Field(default_factory=lambda: list(DEFAULT_RELATION_TYPES))
    symmetric_relations: list[str] = Field(
        default_factory=list, description="Relation types whose direction does not matter."
    )

    @field_validator("entity_types")
    @classmethod
    def _entities(cls, v: list[str]) -> list[str]:
        out = _dedupe([validate_phrase(p, "entity type") for p in v])
        if not out:
            raise InvalidTypeName("at least one entity type is needed")
        for p in out:
            entity_label(p)
        return out

    @field_validator("relation_types", "symmetric_relations")
    @classmethod
    def _relations(cls, v: list[str]) -> list[str]:
        out = _dedupe([validate_phrase(p, "relation type") for p in v])
        for p in out:
            relation_label(p)
        return out

    @classmethod
    def from_file(cls, path: str | Path) -> Schema:
        """Load a schema from JSON.

        Accepts ``{"entity_types": [...], "relation_types": [...]}`` or a SpERT
        ``*_types.json`` file (each type's ``verbose`` name becomes the phrase).
        """
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"cannot read schema file {path}: {exc}") from exc
        if "entities" in data and isinstance(data["entities"], dict):
            rels = data.get("relations", {})
            return cls(
                entity_types=[t["verbose"] for t in data["entities"].values()],
                relation_types=[t["verbose"] for t in rels.values()],
                symmetric_relations=[t["verbose"] for t in rels.values() if t.get("symmetric")],
            )
        return cls.model_validate(data)

    def fingerprint(self) -> str:
        """A short, order-insensitive hash of the types: decides when re-extraction is due."""
        import hashlib

        payload = json.dumps(
            [sorted(self.entity_types), sorted(self.relation_types)], separators=(",", ":")
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _dedupe(items: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for item in items:
        key = item.lower()
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out
