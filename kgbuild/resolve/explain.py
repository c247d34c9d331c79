"""Why an entity is what it is: its aliases, every merge with its rule and score, and the
mentions behind each, read back from a store.

The resolver records on every mention why it is in its entity
(:attr:`kgbuild.types.Mention.merges`, one :class:`~kgbuild.resolve.MergeDecision` per
step); stores keep them on Mention nodes and their union on the Entity (``merges``).
:func:`explain_entity` gathers them per entity::

    >>> from kgbuild.resolve.explain import explain_entity
    >>> with open_store("graph.json") as store:  # doctest: +SKIP
    ...     for entity in explain_entity(store, "Nordwind"):
    ...         print(render_explanation(entity))

``kgbuild explain STORE NAME`` prints the same (``--json`` for tools).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kgbuild.resolve.config import ResolverConfig, type_key
from kgbuild.resolve.normalize import LITERAL, OTHER, PERSON, Normalizer
from kgbuild.resolve.resolver import MergeDecision
from kgbuild.store.base import GraphStore

__all__ = [
    "AliasExplanation",
    "EntityExplanation",
    "MentionRef",
    "MergeExplanation",
    "explain",
    "explain_entity",
    "render_explanation",
]

_MENTIONS = """
MATCH (m:Mention)-[:REFERS_TO]->(e:Entity {id: $id})
RETURN m.id AS id, m.document_id AS document_id, m.start AS start, m.end AS end,
       m.text AS text, m.merges AS merges
"""
_DOCUMENT = "MATCH (d:Document {id: $id}) RETURN d.source AS source"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MentionRef(_Model):
    """One mention: where in which document."""

    id: str
    document_id: str
    source: str | None = Field(description="The document's source (file URI), if stored.")
    start: int = Field(description="Character offset into the document text.")
    end: int
    text: str


class AliasExplanation(_Model):
    """One way the entity is written, and the mentions that write it so."""

    text: str
    mentions: list[MentionRef]


class MergeExplanation(_Model):
    """One merge decision and the mentions it carried into the entity."""

    rule: str = Field(description="A kgbuild.resolve.match RULE_* name, or override_*.")
    source: str = Field(description="The name that was joined.")
    target: str = Field(description="The name or entity it was joined to.")
    score: float
    evidence: str | None = None
    mentions: list[MentionRef]


class EntityExplanation(_Model):
    """An entity with its aliases and merges (see the module doc)."""

    id: str
    name: str
    type: str
    mention_count: int
    aliases: list[AliasExplanation]
    merges: list[MergeExplanation]


def find_entities_named(
    store: GraphStore, name: str, type: str | None = None, config: ResolverConfig | None = None
) -> list:
    """The store's entities that ``name`` may mean: the ones with that name or alias
    (case-insensitive), else those whose alias index holds its normalized name (a
    spelling the resolver treats as the same name). Sorted by mention count, then id.
    """
    if not name.strip():
        raise ValueError("explain: the entity name is empty")
    norm = Normalizer(config or ResolverConfig())
    keys: dict[str, None] = {}
    for kind in (PERSON, OTHER, LITERAL):
        key = norm.analyze(name, kind).key
        keys["n:" + key] = None
        keys["x:" + key] = None
    found = store.find_entities(list(keys))
    if type is not None:
        found = [e for e in found if type_key(e.type) == type_key(type)]
    wanted = name.strip().casefold()
    exact = [e for e in found if wanted in {a.casefold() for a in [e.name, *e.aliases]}]
    chosen = exact or found
    return sorted(chosen, key=lambda e: (-e.mention_count, e.id))


def explain_entity(
    store: GraphStore,
    name: str,
    type: str | None = None,
    config: ResolverConfig | None = None,
) -> list[EntityExplanation]:
    """Explain every entity of ``store`` called ``name`` (optionally of ``type``).

    Returns one :class:`EntityExplanation` per entity (none if no entity has the name):
    its aliases with the mentions behind each (document and character offsets), and
    each merge decision recorded on its mentions (rule, score, evidence) with the
    mentions it carried.
    """
    out = []
    sources: dict[str, str | None] = {}
    for entity in find_entities_named(store, name, type, config):
        rows = store.query(_MENTIONS, {"id": entity.id})
        refs: list[tuple[MentionRef, list[str]]] = []
        for row in rows:
            doc = row["document_id"]
            if doc not in sources:
                found = store.query(_DOCUMENT, {"id": doc})
                sources[doc] = found[0]["source"] if found else None
            ref = MentionRef(
                id=row["id"],
                document_id=doc,
                source=sources[doc],
                start=row["start"],
                end=row["end"],
                text=row["text"],
            )
            refs.append((ref, list(row.get("merges") or [])))
        refs.sort(key=lambda r: (r[0].source or r[0].document_id, r[0].start, r[0].id))
        out.append(_explanation(entity, refs))
    return out


def explain(
    store: GraphStore | str | Path, name: str, type: str | None = None, **store_options: Any
) -> list[EntityExplanation]:
    """:func:`explain_entity` on a store object or string (a ``.json`` path or a Neo4j
    URI, opened with ``store_options`` such as ``user``/``password`` and closed after).

    Example::

        for entity in kgbuild.explain("graph.json", "Nordwind"):
            print(render_explanation(entity))
    """
    if isinstance(store, GraphStore):
        return explain_entity(store, name, type)
    from kgbuild.store import open_store

    with open_store(str(store), **store_options) as opened:
        return explain_entity(opened, name, type)


def _explanation(entity, refs: Iterable[tuple[MentionRef, list[str]]]) -> EntityExplanation:
    aliases: dict[str, list[MentionRef]] = {}
    merges: dict[str, tuple[MergeDecision, list[MentionRef]]] = {}
    count = 0
    for ref, decisions in refs:
        count += 1
        aliases.setdefault(ref.text, []).append(ref)
        for text in decisions:
            if text not in merges:
                merges[text] = (MergeDecision.from_json(text), [])
            merges[text][1].append(ref)
    return EntityExplanation(
        id=entity.id,
        name=entity.name,
        type=entity.type,
        mention_count=count,
        aliases=[AliasExplanation(text=t, mentions=m) for t, m in sorted(aliases.items())],
        merges=[
            MergeExplanation(
                rule=d.rule,
                source=d.source,
                target=d.target,
                score=d.score,
                evidence=d.evidence,
                mentions=m,
            )
            for d, m in sorted(merges.values(), key=lambda x: (x[0].rule, x[0].source, x[0].target))
        ],
    )


def _where(ref: MentionRef) -> str:
    source = ref.source or ref.document_id
    if source.startswith("file://"):
        source = source.rsplit("/", 1)[-1]
    return f"{source} {ref.start}-{ref.end}"


def render_explanation(entity: EntityExplanation, max_mentions: int = 5) -> str:
    """The explanation as text, for people (``kgbuild explain``)."""

    def places(refs: list[MentionRef]) -> str:
        shown = ", ".join(_where(r) for r in refs[:max_mentions])
        more = len(refs) - max_mentions
        return shown + (f" and {more} more" if more > 0 else "")

    lines = [
        f"{entity.name}  ({entity.type}, {entity.id}, "
        f"{entity.mention_count} mention{'s' if entity.mention_count != 1 else ''})",
        "aliases:",
    ]
    for alias in entity.aliases:
        lines.append(f"  {alias.text!r}: {places(alias.mentions)}")
    if not entity.merges:
        lines.append("merges: none (every mention has the entity's own name)")
    else:
        lines.append("merges:")
        for m in entity.merges:
            if m.rule == "short_form_ambiguous":
                head = f"  {m.source!r} kept apart: it fits {m.target}"
            elif m.rule == "override_different":
                head = f"  {m.source!r} kept apart from {m.target!r}"
            else:
                head = f"  {m.source!r} -> {m.target!r}  by {m.rule} ({m.score:g})"
            if m.evidence:
                head += f"; {m.evidence}"
            lines.append(head)
            lines.append(f"      mentions: {places(m.mentions)}")
    return "\n".join(lines)
