"""What the resolver records and works with: a merge decision and a resolved document
(public), union-find over a document's name groups, the groups and clusters, and small
helpers that the within-document passes and the cross-document linking share (see
:mod:`kgbuild.resolve.resolver`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from kgbuild.resolve import match
from kgbuild.resolve.normalize import Name
from kgbuild.resolve.overrides import (
    RULE_OVERRIDE_SAME,
)
from kgbuild.types import Entity, Mention

logger = logging.getLogger(__name__)


class MergeDecision(BaseModel):
    """Why two names ended up in one entity: the rule, the names and the score."""

    model_config = ConfigDict(extra="forbid")

    rule: str = Field(description="A kgbuild.resolve.match RULE_* name.")
    source: str = Field(description="The name that was joined (surface form).")
    target: str = Field(description="The name or existing entity it was joined to.")
    score: float = Field(description="100 for exact rules, the rapidfuzz score for fuzzy ones.")
    evidence: str | None = Field(
        default=None,
        description="What supported a link beyond the names, e.g. 'shared neighbour: Klaus "
        "Vogel' for a short form, or the overrides entry that decided it.",
    )
    entity_id: str | None = None

    def to_json(self) -> str:
        """The decision as stored on a mention (``Mention.merges``): a JSON object with
        rule, source, target, score and evidence (the entity is the mention's own)."""
        return self.model_dump_json(exclude={"entity_id"}, exclude_none=True)

    @classmethod
    def from_json(cls, text: str) -> MergeDecision:
        """A decision read back from ``Mention.merges``."""
        return cls.model_validate_json(text)


class ResolvedDocument(BaseModel):
    """The result of resolving one document's mentions."""

    model_config = ConfigDict(extra="forbid")

    mentions: list[Mention] = Field(description="The input mentions, in order, entity_id set.")
    entities: list[Entity] = Field(description="Every entity the mentions refer to.")
    explain: list[MergeDecision] = Field(default_factory=list)
    overrides: str | None = Field(
        default=None,
        description="Fingerprint of the override entries that applied to the document's "
        "names (None: none did); stores keep it on the Document node.",
    )


class _UnionFind:
    __slots__ = ("parent", "sides")

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))
        # root -> the "different" sides (overrides) its names stand on, when any do
        self.sides: dict[int, set[tuple[int, int]]] = {}

    def opposed(self, a: int, b: int) -> bool:
        """Whether joining ``a`` and ``b`` would put both names of a "different" override
        into one cluster."""
        sa, sb = self.sides.get(self.find(a)), self.sides.get(self.find(b))
        return bool(sa and sb) and _opposed_sides(sa, sb)

    def find(self, x: int) -> int:
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:  # the earlier group stays root: deterministic and order-preserving
            if rb < ra:
                ra, rb = rb, ra
            self.parent[rb] = ra
            if self.sides:
                moved = self.sides.pop(rb, None)
                if moved:
                    self.sides.setdefault(ra, set()).update(moved)


@dataclass(slots=True)
class _Group:
    """All mentions of one document sharing a type and a normalized key."""

    name: Name
    tkey: str
    first: int
    pos: int = 0
    """Where its first mention starts (character offset; the mention index without offsets)."""
    count: int = 0
    surfaces: dict[str, int] = field(default_factory=dict)
    labels: dict[str, int] = field(default_factory=dict)
    primary: bool = True
    ambiguous: bool = False
    """A short name that fit several clusters of the document: it never links elsewhere."""
    entries: frozenset[int] = frozenset()
    """Overrides entries its name falls under; ``same``: its "same" group; ``sides``: the
    "different" entries it stands on, as (entry, position)."""
    same: int | None = None
    sides: frozenset[tuple[int, int]] = frozenset()


@dataclass(slots=True)
class _Cluster:
    """One entity of a document: groups joined by the within-document rules."""

    groups: list[_Group]
    first_group: int
    canonical: _Group
    surface: str
    """The canonical name: the most frequent surface form of the canonical group."""
    label: str
    tkey: str
    count: int
    slot: int = -1


#: Links by the cluster's own name: no merge when they find the entity the cluster would
#: have made anyway (the id of its type and name).
_SAME_NAME = frozenset(
    {match.RULE_EXACT_NAME, match.RULE_EXACT_ALIAS, match.RULE_SAME_ID, RULE_OVERRIDE_SAME}
)

#: Which mentions a recorded decision speaks for (see :meth:`_Engine.resolve`): those of
#: one surface form of a group, all of a group, or all of the group's cluster.
_SURFACE, _GROUP, _CLUSTER = "surface", "group", "cluster"


def _opposed_sides(a: set[tuple[int, int]], b: set[tuple[int, int]]) -> bool:
    """Whether two sets of "different" sides hold two positions of one entry."""
    positions: dict[int, set[int]] = {}
    for d, p in a:
        positions.setdefault(d, set()).add(p)
    return any(d in positions and positions[d] - {q} for d, q in b)


def _rank(name: Name) -> tuple[int, int, str]:
    """A strict order on distinct keys: more words, more characters, then the key."""
    return (len(name.tokens), len(name.key), name.key)
