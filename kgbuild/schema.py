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
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

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
#: The default relations, each with the entity types it may connect: a relation the
#: model finds between other types is dropped (a birthplace pointing at a nationality or
#: a date). Chosen by measuring on examples/docs (benchmarks/graph_connectivity.py):
#: relations that attach people, organisations, places and dates to each other, under
#: names the shipped model trained on, so they are judged against its tuned threshold
#: rather than the lower one for names it never saw ("born in" and "is part of" drew
#: mostly wrong relations there).
DEFAULT_RELATIONS: dict[str, dict[str, list[str]]] = {
    "works for": {"head": ["person"], "tail": ["organization"]},
    "located in": {"head": ["location", "organization", "event"], "tail": ["location"]},
    "headquarters location": {"head": ["organization"], "tail": ["location"]},
    "founded by": {"head": ["organization", "product"], "tail": ["person", "organization"]},
    "member of": {"head": ["person", "organization"], "tail": ["organization"]},
    "place of birth": {"head": ["person"], "tail": ["location"]},
    "date of birth": {"head": ["person"], "tail": ["date"]},
    "creator": {"head": ["work of art", "product"], "tail": ["person", "organization"]},
}
DEFAULT_RELATION_TYPES = list(DEFAULT_RELATIONS)


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
    if isinstance(entity_type, str):
        return _entity_label(entity_type)
    validate_phrase(entity_type, "entity type")  # raises: not a string
    raise AssertionError("unreachable")  # pragma: no cover


def relation_label(relation_type: str) -> str:
    """Relationship type of a relation phrase: 'works for' -> 'WORKS_FOR'."""
    if isinstance(relation_type, str):
        return _relation_label(relation_type)
    validate_phrase(relation_type, "relation type")  # raises: not a string
    raise AssertionError("unreachable")  # pragma: no cover


# Cached: a store asks for the label of every entity and relation it writes, and a
# schema has few types (an invalid name raises, and exceptions are not cached).
@lru_cache(maxsize=4096)
def _entity_label(entity_type: str) -> str:
    words = _words(validate_phrase(entity_type, "entity type"))
    label = "".join(w[:1].upper() + w[1:] for w in words)
    if not SAFE_IDENTIFIER.match(label) or label in RESERVED_LABELS:
        raise InvalidTypeName(f"entity type {entity_type!r} maps to a reserved or invalid label")
    return label


@lru_cache(maxsize=4096)
def _relation_label(relation_type: str) -> str:
    words = _words(validate_phrase(relation_type, "relation type"))
    label = "_".join(w.upper() for w in words)
    if not SAFE_IDENTIFIER.match(label) or label in RESERVED_TYPES:
        raise InvalidTypeName(f"relation type {relation_type!r} maps to a reserved or invalid type")
    return label


#: Words of a description the extractor reads beside a type's name (as in training).
DESCRIPTION_WORDS = 8


def described_label(name: str, description: str | None, max_words: int = DESCRIPTION_WORDS) -> str:
    """The phrase the extractor reads for a type with a description: its name followed by
    the first words of the description ("founded by: the person or organization that
    founded it"). Training shows labels in this phrasing too (``label_variant_prob``), so
    the model has learned to read it. Without a description (or words in it): the name."""
    if not description:
        return name
    words = re.sub(r"[^A-Za-z0-9 ,'-]", " ", description).split()[:max_words]
    return f"{name}: {' '.join(words)}" if words else name


class RelationConstraint(BaseModel):
    """The entity types a relation may connect; ``None`` (or omitted) allows any type."""

    model_config = ConfigDict(extra="forbid")

    head: list[str] | None = None
    tail: list[str] | None = None

    def allows(self, head_type: str, tail_type: str) -> bool:
        return (self.head is None or head_type in self.head) and (
            self.tail is None or tail_type in self.tail
        )

    def permits(self, head_type: str, tail_type: str, symmetric: bool = False) -> bool:
        """Whether a relation between these types is kept: a symmetric relation passes
        when either direction is allowed."""
        return self.allows(head_type, tail_type) or (
            symmetric and self.allows(tail_type, head_type)
        )


class Schema(BaseModel):
    """The entity and relation types to extract, named as phrases.

    Relations may name the entity types they connect; a relation found between other
    types is dropped. A type may carry a description, which the extractor reads beside
    its name (:func:`described_label`): it helps with names the model never saw and
    with directions ("founded by": who founded whom). In a schema file,
    ``relation_types`` may be a list of phrases or an object of phrase -> constraint
    and description (``null`` for neither), and ``entity_types`` a list or an object of
    phrase -> ``{"description": ...}``::

        {"entity_types": {"person": null,
                          "organization": {"description": "a company or institution"}},
         "relation_types": {"works for": {"head": ["person"], "tail": ["organization"]},
                            "founded by": {"description": "the person who founded it",
                                           "head": ["organization"], "tail": ["person"]},
                            "partner of": null}}
    """

    model_config = ConfigDict(extra="forbid")

    entity_types: list[str] = Field(default_factory=lambda: list(DEFAULT_ENTITY_TYPES))
    relation_types: list[str] = Field(default_factory=lambda: list(DEFAULT_RELATION_TYPES))
    symmetric_relations: list[str] = Field(
        default_factory=list, description="Relation types whose direction does not matter."
    )
    relation_constraints: dict[str, RelationConstraint] = Field(
        default_factory=dict,
        description="Allowed head and tail entity types per relation type (optional).",
    )
    descriptions: dict[str, str] = Field(
        default_factory=dict,
        description="What an entity or relation type means, by type name (optional): read "
        "by the extractor beside the name.",
    )

    @model_validator(mode="before")
    @classmethod
    def _type_objects(cls, data):
        """Accept ``relation_types`` as an object of phrase -> constraint (and
        description), ``entity_types`` as an object of phrase -> ``{"description": ...}``."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if not {"entity_types", "relation_types", "relation_constraints"} & set(data):
            # the default schema: its relations come with the types they connect
            data["relation_types"] = {k: dict(v) for k, v in DEFAULT_RELATIONS.items()}
        descriptions = dict(data.get("descriptions") or {})
        if isinstance(data.get("entity_types"), dict):
            ents = data.pop("entity_types")
            for name, spec in ents.items():
                if spec is None:
                    continue
                if not isinstance(spec, dict) or set(spec) - {"description"}:
                    raise InvalidTypeName(
                        f'entity type {name!r}: expected null or {{"description": ...}}, '
                        f"got {spec!r}"
                    )
                if spec.get("description"):
                    descriptions[name] = spec["description"]
            data["entity_types"] = list(ents)
        if isinstance(data.get("relation_types"), dict):
            rels = data.pop("relation_types")
            constraints = dict(data.get("relation_constraints") or {})
            for name, spec in rels.items():
                if not spec:
                    continue
                if not isinstance(spec, dict):
                    raise InvalidTypeName(
                        f"relation type {name!r}: expected null or an object with "
                        f"description, head and tail, got {spec!r}"
                    )
                spec = dict(spec)
                if spec.get("description"):
                    descriptions[name] = spec.pop("description")
                spec.pop("description", None)
                if spec:
                    constraints[name] = spec
            data["relation_types"] = list(rels)
            data["relation_constraints"] = constraints
        if descriptions:
            data["descriptions"] = descriptions
        return data

    @model_validator(mode="after")
    def _check_constraints(self) -> Schema:
        relations = {r.lower(): r for r in self.relation_types}
        entities = {e.lower(): e for e in self.entity_types}
        fixed: dict[str, RelationConstraint] = {}
        for name, constraint in self.relation_constraints.items():
            key = " ".join(str(name).split()).lower()
            if key not in relations:
                raise InvalidTypeName(
                    f"relation constraint for {name!r}: no such relation type "
                    f"(relation types: {', '.join(self.relation_types)})"
                )
            sides = {}
            for side in ("head", "tail"):
                types = getattr(constraint, side)
                if types is None:
                    sides[side] = None
                    continue
                unknown = [t for t in types if " ".join(t.split()).lower() not in entities]
                if unknown:
                    raise InvalidTypeName(
                        f"relation constraint for {name!r}: {side} type(s) {unknown} are not "
                        f"entity types (entity types: {', '.join(self.entity_types)})"
                    )
                sides[side] = [entities[" ".join(t.split()).lower()] for t in types]
            fixed[relations[key]] = RelationConstraint(**sides)
        object.__setattr__(self, "relation_constraints", fixed)
        names = {t.lower(): t for t in [*self.entity_types, *self.relation_types]}
        described: dict[str, str] = {}
        for name, text in self.descriptions.items():
            key = " ".join(str(name).split()).lower()
            if key not in names:
                raise InvalidTypeName(f"description for {name!r}: no such entity or relation type")
            if not isinstance(text, str) or not text.strip():
                raise InvalidTypeName(f"description for {name!r}: expected a non-empty text")
            described[names[key]] = " ".join(text.split())
        object.__setattr__(self, "descriptions", described)
        return self

    def prompt_labels(self) -> tuple[list[str], list[str], dict[str, str]]:
        """What the extractor reads for this schema: the entity and the relation type
        phrases, each with its description where it has one (:func:`described_label`),
        and the map from those phrases back to the type names."""
        back: dict[str, str] = {}

        def phrase(name: str) -> str:
            label = described_label(name, self.descriptions.get(name))
            back[label] = name
            return label

        entities = [phrase(t) for t in self.entity_types]
        relations = [phrase(t) for t in self.relation_types]
        return entities, relations, back

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

        types = [sorted(self.entity_types), sorted(self.relation_types)]
        if self.relation_constraints:  # unchanged hash for schemas without constraints
            types.append(
                sorted(
                    (k, sorted(v.head or []), sorted(v.tail or []), v.head is None, v.tail is None)
                    for k, v in self.relation_constraints.items()
                )
            )
        if self.descriptions:  # likewise: the descriptions change what is extracted
            types.append(sorted(self.descriptions.items()))
        payload = json.dumps(types, separators=(",", ":"))
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
