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
from dataclasses import dataclass, field

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from rapidfuzz import fuzz, process

from kgbuild import ids
from kgbuild.resolve import match
from kgbuild.resolve.config import ResolverConfig, type_key
from kgbuild.resolve.normalize import LITERAL, OTHER, PERSON, Name, Normalizer
from kgbuild.resolve.overrides import (
    RULE_OVERRIDE_DIFFERENT,
    RULE_OVERRIDE_SAME,
    CompiledOverrides,
    Overrides,
)
from kgbuild.store.base import GraphStore
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


# --------------------------------------------------------------------------- helpers
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


# --------------------------------------------------------------------------- the engine
class _Engine:
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
    ) -> tuple[list[int], list[_Cluster]]:
        """Resolve one document's mentions; returns each mention's cluster and the clusters.

        Clusters have ``slot`` set: the in-run entity they were linked to or created as.
        ``keys_out`` receives each mention's alias-index keys (all of its name's blocking
        keys, or only ``x:<key>`` for a short form: see :meth:`_add_name`);
        ``merges_out`` (with ``explain``) the decisions that speak for each mention: how its
        surface form joined its group's name, how its group joined another of the document,
        and how its cluster joined an existing entity (or was kept apart). ``related``:
        pairs of mentions (indices) that the extractor found a relation between; they make
        the entities *neighbours*, evidence for short forms across documents.
        """
        self.doc_no += 1
        groups, mention_group = self._group(texts, labels)
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

    def _group(self, texts: Sequence[str], labels: Sequence[str]) -> tuple[list[_Group], list[int]]:
        by_key: dict[tuple[str, str], int] = {}
        groups: list[_Group] = []
        mention_group: list[int] = []
        analyze = self.norm.analyze
        for i, (text, label) in enumerate(zip(texts, labels, strict=True)):
            tk, kind = self.type_of(label)
            name = analyze(text, kind)
            gk = (tk, name.key)
            g = by_key.get(gk)
            if g is None:
                g = by_key[gk] = len(groups)
                groups.append(_Group(name, tk, i))
            grp = groups[g]
            grp.count += 1
            grp.surfaces[text] = grp.surfaces.get(text, 0) + 1
            grp.labels[label] = grp.labels.get(label, 0) + 1
            mention_group.append(g)
        return groups, mention_group

    def _local_index(self, groups: list[_Group]) -> dict[str, list[int]]:
        """Blocking keys of this document's groups, plus lookups only the short-form
        rules need: last names (``l:``), first names (``g:``), name starts/ends (``e:``)."""
        first_names = self.config.match_first_name
        local: dict[str, list[int]] = {}
        for g, grp in enumerate(groups):
            name = grp.name
            keys = list(name.keys)
            if name.kind == PERSON:
                keys.append("l:" + name.last)
                if name.given and first_names:
                    keys.append("g:" + name.given[0])
            elif name.kind == OTHER and len(name.tokens) > 1 and self._partial_ok(grp.tkey):
                toks = name.tokens
                keys.extend("e:" + " ".join(toks[:n]) for n in range(1, len(toks)))
                keys.extend("e:" + " ".join(toks[-n:]) for n in range(1, len(toks)))
            for k in keys:
                local.setdefault(k, []).append(g)
        return local

    def _candidates(self, local: dict[str, list[int]], keys: Sequence[str]) -> list[int]:
        cap = self.config.max_block_size
        seen: dict[int, None] = {}
        for k in keys:
            block = local.get(k)
            if block and (len(block) <= cap or k.startswith("n:")):
                for h in block:
                    seen[h] = None
        return list(seen)

    def _symmetric(self, groups, local, uf, explain) -> None:
        """Pass a: same key under compatible types, reordered words, fuzzy spelling."""
        cfg = self.config
        compatible = cfg.types_compatible
        close = self._close_pairs(groups)
        for g, grp in enumerate(groups):
            a = grp.name
            if explain is not None and len(grp.surfaces) > 1:
                base = next(iter(grp.surfaces))
                for s in list(grp.surfaces)[1:]:
                    explain.append(
                        (
                            g,
                            MergeDecision(
                                rule=match.RULE_SAME_KEY, source=s, target=base, score=100.0
                            ),
                            _SURFACE,
                        )
                    )
            cands = self._candidates(local, a.keys)
            if g in close:
                cands = list(dict.fromkeys(cands + close[g]))
            for h in cands:
                if h <= g:
                    continue
                other = groups[h]
                if not compatible(grp.tkey, other.tkey):
                    continue
                b = other.name
                if a.key == b.key:
                    rule, score = match.RULE_SAME_KEY, 100.0
                elif match.same_sorted_tokens(a, b):
                    rule, score = match.RULE_SORTED, 100.0
                else:
                    score = match.fuzzy_score(a, b, cfg.fuzzy_threshold, cfg.fuzzy_min_length)
                    if not score:
                        continue
                    rule = match.RULE_FUZZY
                self._join(uf, groups, h, g, rule, score, explain)

    def _close_pairs(self, groups: list[_Group]) -> dict[int, list[int]]:
        """Groups whose keys reach the fuzzy threshold, compared all against all (in C).

        Blocking keys miss some typos ("Wudral"/"Wural"); a document is small enough to
        compare its names pairwise, up to ``within_doc_all_pairs`` names.
        """
        cfg = self.config
        idx = [
            g
            for g, grp in enumerate(groups)
            if grp.name.kind != LITERAL and len(grp.name.key) >= cfg.fuzzy_min_length
        ]
        if len(idx) < 2 or len(idx) > cfg.within_doc_all_pairs:
            return {}
        keys = [groups[g].name.key for g in idx]
        scores = process.cdist(
            keys, keys, scorer=fuzz.ratio, score_cutoff=cfg.fuzzy_threshold, dtype=np.uint8
        )
        out: dict[int, list[int]] = {}
        for i, j in zip(*np.nonzero(scores), strict=True):
            if i < j:
                out.setdefault(idx[i], []).append(idx[j])
        return out

    def _persons_pass(self, groups, local, uf, explain) -> None:
        """Pass b: a person name joins the more complete names it fits, if they all agree."""
        if not self.config.match_initials:
            return
        compatible = self.config.types_compatible
        decisions: list[tuple[int, list[int]]] = []
        for g, grp in enumerate(groups):
            a = grp.name
            if a.kind != PERSON or not a.given:
                continue
            ra = _rank(a)
            targets = [
                h
                for h in self._candidates(local, ("l:" + a.last,))
                if compatible(grp.tkey, groups[h].tkey)
                and _rank(groups[h].name) > ra
                and match.person_compatible(a, groups[h].name)
            ]
            if not targets:
                continue
            agree = all(
                uf.find(x) == uf.find(y) or match.person_compatible(groups[x].name, groups[y].name)
                for i, x in enumerate(targets)
                for y in targets[i + 1 :]
            )
            if agree:
                decisions.append((g, targets))
            else:
                grp.ambiguous = True
                logger.debug("person name %r fits several people; kept apart", a.surface)
        for g, targets in decisions:
            groups[g].primary = False
            for h in targets:
                self._join(uf, groups, g, h, match.RULE_PERSON, 100.0, explain)

    def _short_forms(self, groups, local, uf, explain) -> None:
        """Pass c: last/first names, name starts/ends and acronyms join their one cluster."""
        cfg = self.config
        compatible = cfg.types_compatible
        decisions: list[tuple[int, int, str]] = []
        for g, grp in enumerate(groups):
            a = grp.name
            tests: list[tuple[str, str]] = []
            if a.kind == PERSON:
                if cfg.match_last_name:
                    tests.append(("l:" + a.last, match.RULE_LAST))
                if cfg.match_first_name and len(a.tokens) == 1:
                    tests.append(("g:" + a.key, match.RULE_FIRST))
            elif a.kind == OTHER:
                if self._partial_ok(grp.tkey):
                    tests.append(("e:" + a.key, match.RULE_PARTIAL))
                if cfg.match_acronym and a.acronym_like:
                    tests.append(("a:" + a.key.replace(" ", ""), match.RULE_ACRONYM))
            if not tests:
                continue
            root = uf.find(g)
            found: dict[int, tuple[int, str]] = {}  # target root -> (group, rule)
            for key, rule in tests:
                for h in self._candidates(local, (key,)):
                    other = groups[h]
                    if h == g or not compatible(grp.tkey, other.tkey):
                        continue
                    if not self._short_fits(rule, a, other.name):
                        continue
                    r = uf.find(h)
                    if r != root and r not in found:
                        found[r] = (h, rule)
            if len(found) == 1:
                ((h, rule),) = found.values()
                decisions.append((g, h, rule))
            elif len(found) > 1:
                grp.ambiguous = True
                logger.debug("short name %r fits %d clusters; kept apart", a.surface, len(found))
        for g, h, rule in decisions:
            groups[g].primary = False
            self._join(uf, groups, g, h, rule, 100.0, explain)

    def _short_fits(self, rule: str, short: Name, long: Name) -> bool:
        if rule == match.RULE_LAST:
            return match.last_name(short, long)
        if rule == match.RULE_FIRST:
            return match.first_name(short, long)
        if rule == match.RULE_PARTIAL:
            return match.partial(short, long, self._stopwords)
        return match.acronym(short, long)

    def _join(self, uf, groups, g, h, rule, score, explain) -> None:
        if uf.sides and uf.opposed(g, h):
            src, dst = groups[g].name.surface, groups[h].name.surface
            logger.debug("overrides keep %r apart from %r (%s)", src, dst, rule)
            if explain is not None:
                entries = groups[g].entries | groups[h].entries
                decision = MergeDecision(
                    rule=RULE_OVERRIDE_DIFFERENT,
                    source=src,
                    target=dst,
                    score=0.0,
                    evidence=f"{rule} would join them; {self._override_evidence(entries)}",
                )
                explain.append((g, decision, _GROUP))
            return
        uf.union(g, h)
        if explain is not None:
            src, dst = groups[g].name.surface, groups[h].name.surface
            evidence = None
            if rule == RULE_OVERRIDE_SAME:
                evidence = self._override_evidence(groups[g].entries & groups[h].entries)
            explain.append(
                (
                    g,
                    MergeDecision(
                        rule=rule, source=src, target=dst, score=score, evidence=evidence
                    ),
                    _GROUP,
                )
            )
            logger.debug("joined %r to %r by %s (%.1f)", src, dst, rule, score)

    def _clusters(self, groups, uf) -> tuple[list[_Cluster], list[int]]:
        members: dict[int, list[int]] = {}
        for g in range(len(groups)):
            members.setdefault(uf.find(g), []).append(g)
        clusters: list[_Cluster] = []
        group_cluster = [0] * len(groups)
        for gs in members.values():  # roots are the earliest group: mention order
            grps = [groups[g] for g in gs]
            if len(grps) == 1:  # the common case, made cheap
                canonical, labels = grps[0], grps[0].labels
            else:
                primaries = [x for x in grps if x.primary] or grps
                # Most informative (words), then most frequent, then longest, then earliest.
                canonical = max(
                    primaries,
                    key=lambda x: (len(x.name.tokens), x.count, len(x.name.key), -x.first),
                )
                labels = {}
                for x in grps:
                    for lab, n in x.labels.items():
                        labels[lab] = labels.get(lab, 0) + n
            surfaces = canonical.surfaces
            if len(surfaces) == 1:
                surface = next(iter(surfaces))
            else:  # most frequent, then shortest ("Obama" over "Mr. Obama"), then first
                surface = max(surfaces, key=lambda s: (surfaces[s], -len(s)))
            label = next(iter(labels)) if len(labels) == 1 else max(labels, key=labels.__getitem__)
            c = _Cluster(
                grps,
                gs[0],
                canonical,
                surface,
                label,
                self.type_of(label)[0],
                sum(x.count for x in grps),
            )
            for g in gs:
                group_cluster[g] = len(clusters)
            clusters.append(c)
        return clusters, group_cluster

    # -- across documents ----------------------------------------------------------
    def _link(
        self,
        clusters: list[_Cluster],
        store: GraphStore | None,
        explain,
        neighbours: dict[int, set[int]] | None = None,
    ) -> None:
        link = self.config.link_across_documents
        if link and store is not None:
            keys: dict[str, None] = {}
            for c in clusters:
                for grp in c.groups:
                    if grp.primary:
                        keys.update(dict.fromkeys(self._lookup_keys(grp.name, grp.tkey)))
                    if grp.same is not None:  # every name of its "same" group
                        keys.update(dict.fromkeys(self.ov.name_keys(self.ov.group_names[grp.same])))
            self.fetch(store, keys)
        neighbours = neighbours or {}
        choices: list[tuple[float, int, int, str, str, str | None]] = []
        for i, c in enumerate(clusters):
            if self.ov is not None:
                forced = self._override_link(c)
                if forced is not None:
                    choices.append((-100.0, i, forced[0], RULE_OVERRIDE_SAME, *forced[1:]))
                    continue
            # A name the document itself could not place ("Obama" beside two Obamas) is
            # not guessed elsewhere either; only its own exact id can still match.
            if link and not all(x.ambiguous for x in c.groups):
                best = self._best_existing(c, notes=explain)
                if best is not None:
                    score, slot, rule, target = best
                    if self.ov is not None and self._opposes(c, slot, explain, rule):
                        continue
                    choices.append((-score, i, slot, rule, target, None))
        # Two clusters of this document may share an entity only when both match it by
        # its full name (the document just missed that they are one); a weaker link
        # (short form, acronym, person name) goes to the best-scoring cluster alone.
        taken: dict[int, bool] = {}  # slot -> taken by full-name links only
        choices = self._in_context(choices, clusters, neighbours)
        sides: dict[int, set[tuple[int, int]]] = {}  # slot -> sides of clusters linked to it
        for neg, i, slot, rule, target, evidence in sorted(choices):
            strong = rule in match.FULL_NAME_RULES or rule == RULE_OVERRIDE_SAME
            if slot in taken and not (strong and taken[slot]):
                continue
            c_sides = {x for grp in clusters[i].groups for x in grp.sides}
            if c_sides and slot in sides and _opposed_sides(c_sides, sides[slot]):
                continue  # another cluster of this document on the other side took it
            if c_sides:
                sides.setdefault(slot, set()).update(c_sides)
            taken[slot] = taken.get(slot, True) and strong
            clusters[i].slot = slot
            if rule == match.RULE_SHORT_FORM:  # an alias of the entity's, not a full name
                for grp in clusters[i].groups:
                    grp.primary = False
            if explain is not None:
                explain.append(
                    (
                        clusters[i].first_group,
                        MergeDecision(
                            rule=rule,
                            source=clusters[i].surface,
                            target=target,
                            score=-neg,
                            evidence=evidence,
                        ),
                        _CLUSTER,
                    )
                )
        for c in clusters:
            if c.slot < 0:
                c.slot = self._new_slot(c, taken, explain)
                taken[c.slot] = False
            self._remember(c)
        for i, others in neighbours.items():
            self.e_nbrs[clusters[i].slot].update(clusters[j].slot for j in others)

    def _override_link(self, c: _Cluster) -> tuple[int, str, str] | None:
        """(slot, target, evidence) of the entity a cluster under a "same" override joins:
        one holding a name of its group (the one made for the group first, then the one
        with most mentions, then the smallest id), or None."""
        group = next((x.same for x in c.groups if x.same is not None), None)
        if group is None:
            return None
        ov = self.ov
        found: dict[int, None] = {}
        for key in ov.name_keys(ov.group_names[group]):
            for slot in self.index.get(key, ()):
                found[slot] = None
        c_sides = {x for grp in c.groups for x in grp.sides}
        candidates = [s for s in found if not (c_sides and self._holds_side(s, c_sides))]
        if not candidates:
            return None
        kind = c.canonical.name.kind
        own = ids.entity_id(c.label, ov.group_key(group, kind))
        slot = min(candidates, key=lambda s: (self.e_id[s] != own, -self.e_count[s], self.e_id[s]))
        entries = {e for grp in c.groups for e in grp.entries}
        return slot, self.e_display[slot], self._override_evidence(entries)

    def _holds_side(self, slot: int, c_sides: set[tuple[int, int]]) -> bool:
        """Whether an entity holds a name that a "different" entry keeps apart from one of
        the cluster's names (``c_sides``)."""
        ov, keys = self.ov, self.e_keys[slot]
        for d, p in c_sides:
            for (d2, q), name in ov.side_names.items():
                if d2 == d and q != p and any(k in keys for k in ov.name_keys([name])):
                    return True
        return False

    def _opposes(self, c: _Cluster, slot: int, notes, rule: str) -> bool:
        """Whether a "different" override forbids linking the cluster to the entity (and
        if so, a note saying it kept them apart)."""
        c_sides = {x for grp in c.groups for x in grp.sides}
        if not c_sides or not self._holds_side(slot, c_sides):
            return False
        logger.debug("overrides keep %r apart from %r", c.surface, self.e_display[slot])
        if notes is not None:
            entries = {e for grp in c.groups for e in grp.entries}
            decision = MergeDecision(
                rule=RULE_OVERRIDE_DIFFERENT,
                source=c.surface,
                target=self.e_display[slot],
                score=0.0,
                evidence=f"{rule} would join them; {self._override_evidence(entries)}",
            )
            notes.append((c.first_group, decision, _CLUSTER))
        return True

    def _lookup_keys(self, name: Name, tkey: str) -> list[str]:
        """The alias-index keys the store is asked for to find existing entities for a
        (primary) name: its name as a full name or as another entity's short form, and
        with ``store_blocking_keys`` also its blocking keys."""
        keys = ["n:" + name.key, "x:" + name.key]  # x: as another entity's short form
        if not self.config.store_blocking_keys:
            return keys
        keys += self._link_keys(name)
        short = self._short_form_lookup(name, tkey)
        if short:
            keys.append(short)
        return keys

    def fetch(self, store: GraphStore, keys) -> None:
        """Load the store's entities holding any of ``keys`` into the in-run memory; keys
        asked for before in this run are not asked again (the in-run memory has their
        entities, and only this run writes to the store)."""
        if self.fetched_from != id(store):
            self.fetched, self.fetched_from = set(), id(store)
        new = [k for k in keys if k not in self.fetched]
        if new:
            self.fetched.update(new)
            for entity in store.find_entities(new):
                self.absorb(entity)

    def _in_context(self, choices, clusters, neighbours):
        """Short-form links with evidence beyond the name, whose entity either

        * shares a *neighbour* with the cluster: an entity the document relates to the
          short form, that a relation of an earlier document of this run also ties to the
          candidate ("the founder of Nordwind, Klaus Vogel" -> "Nordwind Energie GmbH",
          founded by Klaus Vogel), when ``short_form_neighbours`` is on; or
        * shares a document of this run with ``short_form_min_context`` other (non-literal)
          entities this document links to: a bare "Taylor" joins "Cecil Taylor" only where
          the two documents have something else in common.

        The evidence is returned with the choice, for the merge decision.
        """
        if all(rule != match.RULE_SHORT_FORM for _, _, _, rule, _, _ in choices):
            return choices
        linked = {
            i: slot
            for _, i, slot, rule, _, _ in choices
            if rule != match.RULE_SHORT_FORM and self.type_of(self.e_label[slot])[1] != LITERAL
        }
        context = set(linked.values())
        need = self.config.short_form_min_context
        use_neighbours = self.config.short_form_neighbours
        kept = []
        for choice in choices:
            neg, i, slot, rule, target, evidence = choice
            if rule != match.RULE_SHORT_FORM:
                kept.append(choice)
                continue
            nbrs = self.e_nbrs[slot]
            shared_nbrs = sorted(
                {
                    self.e_display[linked[j]]
                    for j in neighbours.get(i, ())
                    if j in linked and linked[j] != slot and linked[j] in nbrs
                }
            )
            if use_neighbours and shared_nbrs:
                evidence = "shared neighbour: " + "; ".join(shared_nbrs[:3])
                kept.append((neg, i, slot, rule, target, evidence))
                continue
            docs = self.e_docs[slot]
            shared = sorted(
                self.e_display[other]
                for other in context
                if other != slot and docs & self.e_docs[other]
            )
            if len(shared) < need:
                logger.debug("short form %r -> %r: no shared context", clusters[i].surface, target)
                continue
            evidence = "shared context: " + "; ".join(shared[:3])
            kept.append((neg, i, slot, rule, target, evidence))
        return kept

    def _best_existing(
        self, c: _Cluster, notes: list[tuple[int, MergeDecision]] | None = None
    ) -> tuple[float, int, str, str] | None:
        """The one existing entity this cluster should link to: (score, slot, rule, name).

        ``notes`` receives a decision when a short form fits several entities.
        """
        cfg = self.config
        compatible = cfg.types_compatible
        names = {x.name.key: x.name for x in c.groups if x.primary}
        if not names:
            names = {x.name.key: x.name for x in c.groups}
        # Exact name or alias: a dictionary lookup, no scoring. The cluster's canonical
        # name counts more than its other names (say, a misspelling of it), and an
        # entity's canonical name more than its aliases.
        exact: dict[int, float] = {}
        canonical = c.canonical.name.key
        for key in names:
            for slot in self.index.get("n:" + key, ()):
                if compatible(c.tkey, self.e_tkey[slot]):
                    score = 100.0 if self.e_name[slot].key == key else 99.0
                    score -= 0.0 if key == canonical else 1.5
                    exact[slot] = max(score, exact.get(slot, 0.0))
        if exact:
            return self._unique(exact, c, match.RULE_EXACT_NAME, match.RULE_EXACT_ALIAS, True)
        # A bare person name that another document used as a short form ("Holmes").
        if cfg.link_short_names and self.type_of(c.label)[1] == PERSON:
            short = {
                slot: 96.0
                for key in names
                for slot in self.index.get("x:" + key, ())
                if compatible(c.tkey, self.e_tkey[slot])
            }
            if short:
                if self._short_form_candidates(c, notes, also=short) > 1:
                    return None  # "Vogt" was Lena's short form, but Karl Vogt came along
                rule = match.RULE_SHORT_ALIAS
                return self._unique(short, c, rule, rule, False)
        # Everything else: candidates sharing a blocking key, scored by the rules.
        cand = self._index_candidates(names.values(), c.tkey)
        scores: dict[int, tuple[float, str]] = {}
        for slot in cand:
            best = (0.0, "")
            for a in names.values():
                for b in self.e_names[slot].values():
                    s = self._score(a, b)
                    if s[0] > best[0]:
                        best = s
            if best[0]:
                scores[slot] = best
        if not scores:
            return self._short_form_link(c, notes)
        top = max(s for s, _ in scores.values())
        winners = [slot for slot, (s, _) in scores.items() if s == top]
        if len(winners) > 1:
            logger.debug(
                "%r fits %d existing entities equally; new entity",
                c.canonical.name.surface,
                len(winners),
            )
            return None
        slot = winners[0]
        return top, slot, scores[slot][1], self.e_display[slot]

    # -- short forms across documents -----------------------------------------------
    def _short_form_keys(self, name: Name, tkey: str) -> tuple[str, ...]:
        """Keys a full name adds so that its short forms find it from other documents:
        ``l:<last name>`` for a person name with a given name, ``h:<first word>`` for a
        multi-word name of a partial type (legal suffix already dropped)."""
        if not self.config.link_short_forms:
            return ()
        if name.kind == PERSON and name.given:
            return ("l:" + name.last,)
        if (
            name.kind == OTHER
            and len(name.tokens) > 1
            and self._partial_ok(tkey)
            and not match.kind_of_body(name.tokens, 1, self._stopwords)
        ):
            return ("h:" + name.tokens[0],)
        return ()

    def _short_form_lookup(self, name: Name, tkey: str) -> str | None:
        """The key under which a short form's full names are indexed (see above), or None:
        a bare person name looks up ``l:``, a one-word name of a partial type ``h:``."""
        if not self.config.link_short_forms:
            return None
        if name.kind == PERSON and not name.given:
            return "l:" + name.last
        if (
            name.kind == OTHER
            and len(name.tokens) == 1
            and self._partial_ok(tkey)
            and name.key not in self._stopwords
            and not name.key.isdigit()
        ):
            return "h:" + name.key
        return None

    def _short_form_link(
        self, c: _Cluster, notes: list[tuple[int, MergeDecision]] | None
    ) -> tuple[float, int, str, str] | None:
        """A cluster named only by a short form links to the one existing entity of its
        type whose full name it abbreviates (a surname, an organization name's first
        word). Several such entities: no link, and a ``short_form_ambiguous`` note."""
        found = self._short_form_slots(c)
        if len(found) == 1:
            slot = found[0]
            return 85.0, slot, match.RULE_SHORT_FORM, self.e_display[slot]
        self._note_ambiguous(c, found, notes)
        return None

    def _short_form_slots(self, c: _Cluster, also=()) -> list[int]:
        """Existing entities whose full name the cluster's short name abbreviates (plus
        ``also``: entities that had it as a short form already)."""
        a = c.canonical.name
        key = self._short_form_lookup(a, c.tkey)
        if key is None or any(
            x.primary and x.name.key != a.key for x in c.groups
        ):  # the cluster has a fuller name of its own: nothing to abbreviate
            return []
        compatible = self.config.types_compatible
        found: dict[int, None] = dict.fromkeys(also)
        for slot in self.index.get(key, ()):
            if slot in found or not compatible(c.tkey, self.e_tkey[slot]):
                continue
            if any(self._abbreviates(a, b) for b in self.e_names[slot].values()):
                found[slot] = None
        return list(found)

    def _short_form_candidates(self, c: _Cluster, notes, also) -> int:
        found = self._short_form_slots(c, also)
        if len(found) > 1:
            self._note_ambiguous(c, found, notes)
        return len(found)

    def _note_ambiguous(self, c: _Cluster, found: list[int], notes) -> None:
        if len(found) > 1 and notes is not None:
            shown = sorted(self.e_display[s] for s in found)
            more = f" and {len(shown) - 5} more" if len(shown) > 5 else ""
            notes.append(
                (
                    c.first_group,
                    MergeDecision(
                        rule=match.RULE_SHORT_FORM_AMBIGUOUS,
                        source=c.surface,
                        target="; ".join(shown[:5]) + more,
                        score=0.0,
                    ),
                    _CLUSTER,
                )
            )
        if len(found) > 1:
            logger.debug("short form %r fits %d entities; kept apart", c.surface, len(found))

    def _abbreviates(self, short: Name, long: Name) -> bool:
        if short.kind == PERSON:
            return match.last_name(short, long)
        return match.head(short, long, self._stopwords)

    def _unique(
        self,
        found: dict[int, float],
        c: _Cluster,
        rule_name: str,
        rule_alias: str,
        break_ties: bool,
    ) -> tuple[float, int, str, str] | None:
        """The best of entities found by exact lookup, or None if it is a toss-up.

        Ties go to the entity of the cluster's own type. A full name that is an alias of
        several entities (duplicates, or namesakes) goes to the one with the most mentions
        (so a misspelled twin never takes over the name), then the closest canonical name,
        then the smallest id, rather than making yet another twin; a short form shared by
        several entities ("Obama") is ambiguous.
        """
        top = max(found.values())
        winners = [s for s, v in found.items() if v == top]
        if len(winners) > 1:
            same = [s for s in winners if self.e_label[s] == c.label]
            winners = same or winners
        if len(winners) > 1 and break_ties:
            key = c.canonical.name.key
            winners = [
                min(
                    winners,
                    key=lambda s: (
                        -self.e_count[s],
                        -fuzz.ratio(key, self.e_name[s].key),
                        self.e_id[s],
                    ),
                )
            ]
        if len(winners) > 1:
            logger.debug(
                "%r is an alias of %d entities; new entity", c.canonical.name.surface, len(winners)
            )
            return None
        slot = winners[0]
        rule = rule_name if top in (100.0, 98.5) else rule_alias
        return top, slot, rule, self.e_display[slot]

    def _link_keys(self, name: Name) -> list[str]:
        """The blocking keys that can find an existing entity for ``name`` by a scored rule.

        Not ``n:`` (looked up directly), and ``a:`` only for a name that is itself a
        long-enough acronym (a full name never links to an entity known only by its
        acronym).
        """
        cfg = self.config
        out = []
        for k in name.keys[1:]:
            if k[0] == "a" and not (
                cfg.cross_doc_acronyms
                and name.acronym_like
                and len(k) - 2 >= cfg.cross_doc_min_acronym_length
            ):
                continue
            out.append(k)
        return out

    def _index_candidates(self, names, tkey: str) -> list[int]:
        cfg = self.config
        cap, limit = cfg.max_block_size, cfg.max_candidates
        compatible = cfg.types_compatible
        seen: dict[int, None] = {}
        for a in names:
            for k in self._link_keys(a):
                block = self.index.get(k)
                if not block or len(block) > cap:
                    continue
                for slot in block:
                    if slot not in seen and compatible(tkey, self.e_tkey[slot]):
                        seen[slot] = None
                        if len(seen) >= limit:
                            return list(seen)
        return list(seen)

    def _score(self, a: Name, b: Name) -> tuple[float, str]:
        """How well existing name ``b`` fits new name ``a`` (0 if no rule applies)."""
        if a.kind == LITERAL or b.kind == LITERAL:
            return (98.0, match.RULE_SORTED) if match.same_sorted_tokens(a, b) else (0.0, "")
        if match.same_sorted_tokens(a, b):
            return 98.0, match.RULE_SORTED
        if match.person_compatible(a, b, initials=False):
            return 95.0, match.RULE_PERSON
        cfg = self.config
        s = match.fuzzy_score(a, b, cfg.cross_doc_fuzzy_threshold, cfg.fuzzy_min_length)
        if s:
            return min(s, 97.0), match.RULE_FUZZY
        if (
            cfg.cross_doc_acronyms
            and len(a.key) >= cfg.cross_doc_min_acronym_length
            and match.acronym(a, b)
        ):
            return 90.0, match.RULE_ACRONYM
        return 0.0, ""

    # -- the in-run memory -----------------------------------------------------------
    def _new_slot(self, c: _Cluster, taken: set[int], explain) -> int:
        key = c.canonical.name.key
        group = next((x.same for x in c.groups if x.same is not None), None)
        if group is not None:  # named after its "same" group, whichever name came first
            key = self.ov.group_key(group, c.canonical.name.kind)
        eid = ids.entity_id(c.label, key)
        n = 1
        while eid in self.by_id:
            slot = self.by_id[eid]
            if slot not in taken:  # the entity this name was first made as
                if explain is not None:
                    explain.append(
                        (
                            c.first_group,
                            MergeDecision(
                                rule=match.RULE_SAME_ID,
                                source=c.surface,
                                target=self.e_display[slot],
                                score=100.0,
                            ),
                            _CLUSTER,
                        )
                    )
                return slot
            n += 1  # taken by another cluster of this document: a distinct twin
            eid = ids.entity_id(c.label, f"{key}#{n}")
        if group is not None and key != c.canonical.name.key and explain is not None:
            # The entity of a "same" group, made by a name that is not its fullest one.
            entries = {e for grp in c.groups for e in grp.entries}
            decision = MergeDecision(
                rule=RULE_OVERRIDE_SAME,
                source=c.surface,
                target=self.ov.group_display(group, c.canonical.name.kind),
                score=100.0,
                evidence=self._override_evidence(entries),
            )
            explain.append((c.first_group, decision, _CLUSTER))
        return self._add_slot(eid, c.label, c.canonical.name, c.surface)

    def _add_slot(self, eid: str, label: str, name: Name, display: str) -> int:
        slot = len(self.e_id)
        self.e_id.append(eid)
        self.e_label.append(label)
        self.e_tkey.append(self.type_of(label)[0])
        self.e_name.append(name)
        self.e_display.append(display)
        self.e_count.append(0)
        self.e_aliases.append({})
        self.e_names.append({})
        self.e_keys.append({})
        self.e_docs.append(set())
        self.e_nbrs.append(set())
        self.by_id[eid] = slot
        return slot

    def _add_name(self, slot: int, name: Name, primary: bool) -> None:
        """Index a name of an entity: full names under all their blocking keys, short forms
        (a last name, a name's first words, an acronym joined by a rule) only under
        ``x:<key>``, so they never make fuzzy, acronym or exact-name links."""
        self.e_aliases[slot][name.surface] = None
        names = self.e_names[slot]
        if name.key in names:
            return
        if primary:
            names[name.key] = name
            self._add_keys(slot, name.keys)
            self._add_keys(slot, self._short_form_keys(name, self.e_tkey[slot]))
        else:
            self._add_keys(slot, ("x:" + name.key,))

    def _add_keys(self, slot: int, keys) -> None:
        have = self.e_keys[slot]
        index = self.index
        for k in keys:
            if k not in have:
                have[k] = None
                block = index.get(k)
                if block is None:
                    index[k] = [slot]
                else:
                    block.append(slot)

    def _remember(self, c: _Cluster) -> None:
        slot = c.slot
        self.e_count[slot] += c.count
        self.e_docs[slot].add(self.doc_no)
        for grp in c.groups:
            self._add_name(slot, grp.name, grp.primary)
            for s in grp.surfaces:
                self.e_aliases[slot][s] = None
        if _rank(c.canonical.name) > _rank(self.e_name[slot]):  # a fuller name came along
            self.e_name[slot] = c.canonical.name
            self.e_display[slot] = c.surface

    def absorb(self, entity: Entity) -> int:
        """Add an entity from the store to the in-run memory (or merge into it)."""
        slot = self.by_id.get(entity.id)
        _, kind = self.type_of(entity.type)
        if slot is None:
            name = self.norm.analyze(entity.name, kind)
            slot = self._add_slot(entity.id, entity.type, name, entity.name)
        self.e_count[slot] = max(self.e_count[slot], entity.mention_count)
        stored = set(entity.keys)
        for i, alias in enumerate([entity.name, *entity.aliases]):
            name = self.norm.analyze(alias, kind)
            # A stored alias is a short form when the store holds only its x: key.
            primary = i == 0 or "x:" + name.key not in stored or "n:" + name.key in stored
            self._add_name(slot, name, primary)
        self._add_keys(slot, entity.keys)
        return slot

    def entity(self, slot: int, mention_count: int) -> Entity:
        """The slot as an :class:`Entity` (aliases and keys so far, this document's count)."""
        return Entity(
            id=self.e_id[slot],
            name=self.e_display[slot],
            type=self.e_label[slot],
            aliases=list(self.e_aliases[slot]),
            mention_count=mention_count,
            keys=sorted(self.e_keys[slot]),
        )


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
