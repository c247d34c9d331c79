"""Label names across datasets: the inverse phrasing of a relation name (head and tail
swapped), so that training teaches directions, and every label name a dataset uses
(for the distractor pools)."""

from __future__ import annotations

from collections.abc import Iterable

from kgbuild.extract.training.data import Example

__all__ = [
    "SYMMETRIC_RELATIONS",
    "add_inverse_relations",
    "dataset_label_names",
    "inverse_of",
    "inverse_relation",
]


#: Relation names and their inverse phrasings (head and tail swapped). Where a name's
#: inverse has another inverse of its own the map is not symmetric on purpose:
#: "employer" (person -> organization) reads backwards as "employer of", whose inverse
#: is "employed by". Wikidata names keep their Wikidata direction (subject = head).
_INVERSE_PAIRS: list[tuple[str, str]] = [
    ("founded by", "founder of"),
    ("created by", "creator of"),
    ("owned by", "owner of"),
    ("employed by", "employer of"),
    ("part of", "has part"),
    ("followed by", "follows"),
    ("replaced by", "replaces"),
    ("subsidiary of", "has subsidiary"),
    ("acquired by", "acquired"),
    ("capital of", "capital"),
    ("headquartered in", "headquarters of"),
    ("member of", "has member"),
    ("participant in", "participant"),
    ("child of", "parent of"),
    ("killed by", "kill"),
    ("located in", "location of"),
    ("instance of", "has instance"),
    ("subclass of", "has subclass"),
    ("edition or translation of", "has edition or translation"),
    ("located in the administrative territorial entity",
     "contains the administrative territorial entity"),
    # SemEval-2010 task 8, each class in both directions (see SEMEVAL_RELATIONS)
    ("cause of", "caused by"),
    ("component of", "has component"),
    ("used by", "uses"),
    ("moved to", "destination of"),
    ("contained in", "contains"),
    ("about", "topic of"),
    ("produced by", "producer of"),
    ("originates from", "origin of"),
]  # fmt: skip

#: One-way entries: the inverse of the left name is the right one, not the other way round.
_INVERSE_ONE_WAY: dict[str, str] = {
    # Wikidata names whose subject is a work or an organization and whose object the agent
    "creator": "creator of",
    "author": "author of",
    "director": "director of",
    "producer": "producer of",
    "publisher": "publisher of",
    "composer": "composer of",
    "developer": "developer of",
    "manufacturer": "manufacturer of",
    "screenwriter": "screenwriter of",
    "architect": "architect of",
    "designed by": "designer of",
    "operator": "operator of",
    "performer": "performer of",
    "cast member": "cast member of",
    "chief executive officer": "chief executive of",
    "chairperson": "chairperson of",
    "director / manager": "director or manager of",
    "head of state": "head of state of",
    "head of government": "head of government of",
    "headquarters location": "headquarters of",
    "employer": "employer of",
    "parent organization": "has subsidiary",
    "subsidiary": "subsidiary of",
    "has subsidiary": "subsidiary of",
    "has part(s)": "part of",
    "contains administrative territorial entity": (
        "located in the administrative territorial entity"
    ),
    "award received": "awarded to",
    "winner": "winner of",
    "named after": "namesake of",
    # family: "child" has the parent as head
    "child": "child of",
    "father": "father of",
    "mother": "mother of",
    # causation in Wikidata: "has cause" has the effect as head
    "has cause": "cause of",
    "has effect": "caused by",
    # CoNLL04's verbose names
    "work for": "employer of",
    "organization based in": "location of organization",
    "live in": "home of",
}

#: Names that read the same in both directions: their inverse is the name itself.
SYMMETRIC_RELATIONS = frozenset(
    {
        "spouse",
        "sibling",
        "shares border with",
        "twinned administrative body",
        "diplomatic relation",
        "partner in business or sport",
        "unmarried partner",
        "adjacent station",
        "connects with",
        "opposite of",
    }
)

_INVERSES: dict[str, str] = {
    **{a: b for a, b in _INVERSE_PAIRS},
    **{b: a for a, b in _INVERSE_PAIRS},
    **_INVERSE_ONE_WAY,
}


def inverse_relation(name: str) -> str | None:
    """The inverse phrasing of a relation name (head and tail swapped), when known.

    ``inverse_relation("founded by") == "founder of"``; a symmetric name is its own
    inverse (``"spouse"``); ``None`` for names without a known inverse.
    """
    key = " ".join(name.lower().split())
    if key in SYMMETRIC_RELATIONS:
        return key
    return _INVERSES.get(key)


def inverse_of(relation: tuple[int, int, str]) -> tuple[int, int, str] | None:
    """``(head, tail, name)`` read the other way: ``(tail, head, inverse name)``, or None."""
    head, tail, name = relation
    inverse = inverse_relation(name)
    return None if inverse is None else (tail, head, inverse)


def add_inverse_relations(examples: Iterable[Example]) -> dict[str, int]:
    """Add, in place, each relation's inverse phrasing with head and tail swapped.

    An inverse name joins ``relation_labels`` when its forward name is there (the
    example's annotation vouches for both). Symmetric names join ``symmetric`` instead
    (training then counts them in both directions). Returns how many relations were
    added per inverse name.
    """
    added: dict[str, int] = {}
    for ex in examples:
        labels = list(ex.relation_labels)
        for name in ex.relation_labels:
            inverse = inverse_relation(name)
            if inverse == name:
                ex.symmetric.add(name)
            elif inverse is not None and inverse not in labels:
                labels.append(inverse)
        have = set(ex.relations)
        for rel in list(ex.relations):
            inv = inverse_of(rel)
            if inv is None or inv[2] == rel[2] or inv in have:
                continue
            have.add(inv)
            ex.relations.append(inv)
            added[inv[2]] = added.get(inv[2], 0) + 1
            if inv[2] not in labels:
                labels.append(inv[2])
        ex.relation_labels = labels
        ex.relations = sorted(have)
    return added


def dataset_label_names(examples: Iterable[Example]) -> tuple[list[str], list[str]]:
    """Every entity label (gold and silver) and relation label of a dataset, first seen
    first. Readers often give all examples one shared list object, so each distinct list
    is read once: linear in the number of examples, not in examples x labels."""
    entity: dict[str, None] = {}
    relation: dict[str, None] = {}
    seen: set[int] = set()
    for ex in examples:
        for names, into in (
            (ex.entity_labels, entity),
            (ex.silver_labels, entity),
            (ex.relation_labels, relation),
        ):
            if id(names) not in seen:
                seen.add(id(names))
                into.update(dict.fromkeys(names))
        # labels carried by annotations but missing from the label lists
        entity.update(dict.fromkeys(t for *_, t in ex.entities))
        relation.update(dict.fromkeys(r for *_, r in ex.relations))
    return list(entity), list(relation)
