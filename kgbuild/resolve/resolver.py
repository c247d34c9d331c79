"""Entity resolution: the mentions of one document in, entities out.

How one document is resolved (:meth:`EntityResolver.resolve_document`):

1. **Normalize** every mention's text into a :class:`~kgbuild.resolve.normalize.Name`
   (key, tokens, blocking keys). Mentions with the same type and key form a *group*.
2. **Within the document**, groups are joined in a union-find, in three passes:

   a. symmetric rules between groups that share a blocking key (or, in documents of
      up to ``within_doc_all_pairs`` names, whose keys rapidfuzz finds close): same
      key under two compatible types, same words reordered, a typo
      (:func:`~kgbuild.resolve.match.fuzzy_score`);
   b. person names: "J. Smith" joins "John Smith" if every longer person name it fits
      also fits the others (so not when "Jane Smith" is in the document too);
   c. short forms: a last name, the first/last words of a longer organization name,
      or an acronym joins the one cluster it fits; if it fits two, it stays apart
      and is marked *ambiguous* ("Obama" next to "Barack Obama" and "Michelle Obama").

   Names joined as the short side of (b) or (c) are *secondary*: they become aliases
   (indexed only under ``x:<key>``) but never link across documents on their own, so
   the "Obama" of a Michelle Obama article cannot pull her into Barack's node.
3. **Across documents**: each cluster's primary names look up the in-run alias index
   (after ``store.find_entities`` has loaded the store's candidates into it) by their
   blocking keys. An exact name (100) or alias (99) wins outright (1.5 less when it
   is not the cluster's canonical name, e.g. a misspelling the document also used;
   ties go to the entity with more mentions); else a bare person name that was
   another entity's short form (96, "Holmes"); else candidates sharing a blocking key
   are scored: reordered words 98, same person with the first name spelled out (95,
   middle names may differ; an initial alone is no evidence without the document's
   context), a typo (the rapidfuzz ratio, at most 97), an acronym of 3+ letters for
   the entity's full name (90). The single best candidate is linked; ties make a new
   entity. Last, a cluster named only by a short form (a bare surname, the first word of
   an organization name) links to the one existing entity of its type whose full name it
   abbreviates (85, ``l:``/``h:`` keys), if that entity shares a document of this run
   with at least ``short_form_min_context`` other entities the document links to; when
   several entities fit, it stays apart with a ``short_form_ambiguous`` decision.
   Two clusters of a document may link to one entity only by full-name rules;
   ambiguous clusters do not link at all. Otherwise a new entity gets id
   ``entity_id(type, canonical_key)``.

Every join is recorded as a :class:`MergeDecision` (rule, the two names, score).
The same mentions in the same order give the same ids: every step iterates in
mention order and breaks ties by it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from kgbuild import ids
from kgbuild.resolve.config import ResolverConfig, type_key
from kgbuild.resolve.groups import (
    _CLUSTER,
    _GROUP,
    _SAME_NAME,
    MergeDecision,
    ResolvedDocument,
    _Cluster,
    _Group,
    _UnionFind,
)
from kgbuild.resolve.linking import CrossDocumentLinking
from kgbuild.resolve.normalize import LITERAL, OTHER, PERSON, Name, Normalizer
from kgbuild.resolve.overrides import (
    RULE_OVERRIDE_SAME,
    CompiledOverrides,
    Overrides,
)
from kgbuild.resolve.within_document import WithinDocumentPasses
from kgbuild.store.base import GraphStore
from kgbuild.types import Mention

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------- the engine
class _Engine(WithinDocumentPasses, CrossDocumentLinking):
    """The resolution algorithm on plain Python values, shared by the resolver and
    :func:`~kgbuild.resolve.bulk.cluster_mentions`.

    Holds the in-run memory: every entity seen so far in a *slot* (parallel lists)
    and the alias index from blocking key to slots.
    """

    def __init__(self, config: ResolverConfig, overrides: Overrides | None = None) -> None:
        self.config = config
        self.norm = Normalizer(config)
        self.set_overrides(overrides)
        self._persons = frozenset(config.person_types)
        self._literals = frozenset(config.literal_types)
        self._partial_types = (
            None if config.partial_types is None else frozenset(map(type_key, config.partial_types))
        )
        self._stopwords = frozenset(config.stopwords)
        self._tkeys: dict[str, tuple[str, str]] = {}
        self.reset()

    def set_overrides(self, overrides: Overrides | None) -> None:
        """Follow these user decisions from now on (None: none)."""
        compiled = CompiledOverrides(overrides, self.config) if overrides else None
        self.ov: CompiledOverrides | None = compiled or None
        self.doc_entries: set[int] = set()  # entries that applied to the last document

    def reset(self) -> None:
        self.e_id: list[str] = []
        self.e_label: list[str] = []
        self.e_tkey: list[str] = []
        self.e_name: list[Name] = []  # the canonical name, analyzed
        self.e_display: list[str] = []  # ... and as written
        self.e_count: list[int] = []  # mentions seen (this run, or the store's count)
        self.e_aliases: list[dict[str, None]] = []
        self.e_names: list[dict[str, Name]] = []
        self.e_keys: list[dict[str, None]] = []
        self.index: dict[str, list[int]] = {}
        self.by_id: dict[str, int] = {}
        self.e_docs: list[set[int]] = []  # the documents of this run that mention it
        self.e_nbrs: list[set[int]] = []  # entities related to it in documents of this run
        self.doc_no = 0
        self.fetched: set[str] = set()  # keys the store was asked for in this run ...
        self.fetched_from: int | None = None  # ... that store (its id())
        self.stored: set[int] = set()  # entities loaded from the store (earlier runs)
        # ... and what the store says of them: related entities (with the documents that
        # relate them), the documents that mention them
        self.store_nbrs: dict[int, dict[str, set[str]]] = {}
        self.store_docs: dict[int, set[str]] = {}
        self.document_id: str | None = None  # the document being resolved

    # -- types ---------------------------------------------------------------------
    def type_of(self, label: str) -> tuple[str, str]:
        """(type key, name kind) of a type phrase."""
        got = self._tkeys.get(label)
        if got is None:
            tk = type_key(label)
            kind = PERSON if tk in self._persons else LITERAL if tk in self._literals else OTHER
            got = self._tkeys[label] = (tk, kind)
        return got

    def _partial_ok(self, tkey: str) -> bool:
        return self.config.match_partial and (
            self._partial_types is None or tkey in self._partial_types
        )

    # -- one document --------------------------------------------------------------
    def resolve(
        self,
        texts: Sequence[str],
        labels: Sequence[str],
        store: GraphStore | None = None,
        explain: list[MergeDecision] | None = None,
        keys_out: list[list[str]] | None = None,
        merges_out: list[list[MergeDecision]] | None = None,
        related: Sequence[tuple[int, int]] = (),
        starts: Sequence[int] | None = None,
    ) -> tuple[list[int], list[_Cluster]]:
        """Resolve one document's mentions; returns each mention's cluster and the clusters.

        Clusters have ``slot`` set: the in-run entity they were linked to or created as.
        ``keys_out`` receives each mention's alias-index keys (all of its name's blocking
        keys, or only ``x:<key>`` for a short form: see :meth:`_add_name`);
        ``merges_out`` (with ``explain``) the decisions that speak for each mention: how its
        surface form joined its group's name, how its group joined another of the document,
        and how its cluster joined an existing entity (or was kept apart). ``related``:
        pairs of mentions (indices) that the extractor found a relation between; they make
        the entities *neighbours*, evidence for short forms across documents. ``starts``:
        each mention's character offset (where the document's subject is named first; by
        default the mention order stands in for it).
        """
        self.doc_no += 1
        groups, mention_group = self._group(texts, labels, starts)
        uf = _UnionFind(len(groups))
        notes: list[tuple[int, MergeDecision, str]] | None = None if explain is None else []
        self.doc_entries = set()
        if self.ov is not None:
            self._override_groups(groups, uf, notes)
        local = self._local_index(groups)
        self._symmetric(groups, local, uf, notes)
        self._persons_pass(groups, local, uf, notes)
        self._short_forms(groups, local, uf, notes)
        clusters, group_cluster = self._clusters(groups, uf)
        neighbours: dict[int, set[int]] = {}
        for a, b in related:
            ca, cb = group_cluster[mention_group[a]], group_cluster[mention_group[b]]
            if ca != cb:
                neighbours.setdefault(ca, set()).add(cb)
                neighbours.setdefault(cb, set()).add(ca)
        self._link(clusters, store, notes, neighbours)
        if explain is not None:
            for g, decision, _ in notes:
                decision.entity_id = self.e_id[clusters[group_cluster[g]].slot]
                explain.append(decision)
            if merges_out is not None:
                merges_out.extend(
                    self._mention_merges(texts, mention_group, clusters, group_cluster, notes)
                )
        if keys_out is not None:
            group_keys = [
                [*g.name.keys, *self._short_form_keys(g.name, g.tkey)]
                if g.primary
                else ["x:" + g.name.key]
                for g in groups
            ]
            keys_out.extend(group_keys[g] for g in mention_group)
        return [group_cluster[g] for g in mention_group], clusters

    def _override_groups(self, groups: list[_Group], uf: _UnionFind, notes) -> None:
        """Mark groups with the overrides their names fall under and join the groups of
        one "same" group; the rules then never join two sides of a "different" entry."""
        ov = self.ov
        first: dict[int, int] = {}
        for g, grp in enumerate(groups):
            entries, same, sides = ov.match(grp.name.key, grp.name.kind, grp.tkey)
            if not entries:
                continue
            grp.entries, grp.same, grp.sides = frozenset(entries), same, frozenset(sides)
            self.doc_entries |= entries
            if sides:
                uf.sides[g] = set(sides)
        for g, grp in enumerate(groups):
            if grp.same is None:
                continue
            h = first.setdefault(grp.same, g)
            if h != g:
                self._join(uf, groups, g, h, RULE_OVERRIDE_SAME, 100.0, notes)

    def _override_evidence(self, entries) -> str:
        return "overrides: " + "; ".join(self.ov.entry_text[e] for e in sorted(entries))

    def _mention_merges(
        self, texts, mention_group, clusters, group_cluster, notes
    ) -> list[list[MergeDecision]]:
        """The decisions that speak for each mention, in the order they were taken.

        A cluster linked to the entity it would have made anyway (the id of its own type
        and name: "Berlin" to the Berlin of an earlier document) was not merged into
        anything: that link is left out, so a mention's reasons do not depend on which
        document came first or was written before.
        """
        by_group: dict[int, list[tuple[MergeDecision, str]]] = {}
        by_cluster: dict[int, list[MergeDecision]] = {}
        for g, decision, scope in notes:
            if scope == _CLUSTER:
                k = group_cluster[g]
                c = clusters[k]
                if decision.rule in _SAME_NAME and self.e_id[c.slot] == ids.entity_id(
                    c.label, c.canonical.name.key
                ):
                    continue
                by_cluster.setdefault(k, []).append(decision)
            else:
                by_group.setdefault(g, []).append((decision, scope))
        out = []
        for text, g in zip(texts, mention_group, strict=True):
            own = [d for d, scope in by_group.get(g, ()) if scope == _GROUP or d.source == text]
            out.append(own + by_cluster.get(group_cluster[g], []))
        return out


# --------------------------------------------------------------------------- public API
class EntityResolver:
    """Resolves each document's mentions to entities, linking across documents and runs.

    Args:
        config: rules and thresholds; the defaults are documented on
            :class:`~kgbuild.resolve.config.ResolverConfig`.

    Example:
        >>> resolver = EntityResolver()
        >>> result = resolver.resolve_document(mentions, store=store)  # doctest: +SKIP
        >>> [m.entity_id for m in result.mentions]  # doctest: +SKIP

    The resolver remembers the entities of the documents it resolved (the in-run
    index) until :meth:`reset`; entities of earlier runs are found through
    ``store.find_entities``.
    """

    def __init__(
        self, config: ResolverConfig | None = None, overrides: Overrides | None = None
    ) -> None:
        self.config = config or ResolverConfig()
        self._engine = _Engine(self.config, overrides)

    def set_overrides(self, overrides: Overrides | None) -> None:
        """Follow these user decisions (:mod:`kgbuild.resolve.overrides`) from now on."""
        self._engine.set_overrides(overrides)

    def name_kind(self, label: str) -> str:
        """How names of type phrase ``label`` are read: ``person``, ``literal`` or ``other``."""
        return self._engine.type_of(label)[1]

    @property
    def overrides(self) -> CompiledOverrides | None:
        """The overrides in force, compiled (None: none)."""
        return self._engine.ov

    def reset(self) -> None:
        """Forget the entities of the documents resolved so far."""
        self._engine.reset()

    def prefetch(self, names: Iterable[tuple[str, str]], store: GraphStore) -> None:
        """Ask the store once for the entities that the mentions of several documents may
        link to, so that :meth:`resolve_document` need not ask per document (on Neo4j
        each lookup is a pass over the Entity nodes). The result is the same as without
        it: a document's own lookup only finds entities that hold its names' keys.

        ``names``: (mention text, type) pairs of the documents about to be resolved.
        """
        if not self.config.link_across_documents:
            return
        engine = self._engine
        keys: dict[str, None] = {}
        for text, label in names:
            tkey, kind = engine.type_of(label)
            name = engine.norm.analyze(text, kind)
            keys.update(dict.fromkeys(engine._lookup_keys(name, tkey)))
        engine.fetch(store, keys)

    def resolve_document(
        self,
        mentions: list[Mention],
        store: GraphStore | None = None,
        related: Iterable[tuple[int, int]] = (),
    ) -> ResolvedDocument:
        """Resolve the mentions of ONE document.

        ``related``: pairs of indices into ``mentions`` that the extractor found a relation
        between (evidence for short forms across documents, see
        :attr:`ResolverConfig.short_form_neighbours`).

        Returns copies of ``mentions`` (same order, ids, offsets and text) with
        ``entity_id``, ``keys`` and ``merges`` (why the mention is in its entity, see
        :meth:`MergeDecision.to_json`) set, every entity they refer to
        (``mention_count`` counts this document only) and the merge decisions.
        """
        if not mentions:
            return ResolvedDocument(mentions=[], entities=[])
        doc_ids = {m.document_id for m in mentions}
        if len(doc_ids) > 1:
            raise ValueError(
                f"resolve_document takes the mentions of one document, got {len(doc_ids)}: "
                f"{sorted(doc_ids)[:5]}"
            )
        for m in mentions:
            if not m.text or not m.text.strip():
                raise ValueError(f"mention {m.id} of document {m.document_id} has empty text")
        explain: list[MergeDecision] = []
        engine = self._engine
        engine.document_id = mentions[0].document_id
        pairs = []
        for a, b in related:
            if not (0 <= a < len(mentions) and 0 <= b < len(mentions)):
                raise ValueError(f"related pair ({a}, {b}) is outside the {len(mentions)} mentions")
            pairs.append((a, b))
        keys: list[list[str]] = []
        merges: list[list[MergeDecision]] = []
        assign, clusters = engine.resolve(
            [m.text for m in mentions],
            [m.label for m in mentions],
            store,
            explain,
            keys,
            merges,
            pairs,
            [m.start for m in mentions],
        )
        entities = [engine.entity(c.slot, c.count) for c in clusters]
        out = [
            m.model_copy(
                update={
                    "entity_id": entities[k].id,
                    "keys": mention_keys,
                    "merges": [d.to_json() for d in decisions],
                }
            )
            for m, k, mention_keys, decisions in zip(mentions, assign, keys, merges, strict=True)
        ]
        fingerprint = engine.ov.fingerprint(engine.doc_entries) if engine.ov else None
        return ResolvedDocument(
            mentions=out, entities=entities, explain=explain, overrides=fingerprint
        )
