"""Across documents: each cluster linked to an entity of the run or of the store through
the alias index, short forms with evidence, and new entities (step 3 of
:mod:`kgbuild.resolve.resolver`). A part of the resolver's engine."""

from __future__ import annotations

import logging

from rapidfuzz import fuzz

from kgbuild import ids
from kgbuild.resolve import match
from kgbuild.resolve.groups import (
    _CLUSTER,
    MergeDecision,
    _Cluster,
    _opposed_sides,
    _rank,
)
from kgbuild.resolve.normalize import LITERAL, OTHER, PERSON, Name
from kgbuild.resolve.overrides import (
    RULE_OVERRIDE_DIFFERENT,
    RULE_OVERRIDE_SAME,
)
from kgbuild.store.base import GraphStore
from kgbuild.types import Entity

logger = logging.getLogger(__name__)


class CrossDocumentLinking:
    """The engine's cross-document linking (mixed into ``_Engine``)."""

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
        choices = self._in_context(choices, clusters, neighbours, store)
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
        (primary) name: its name as a full name or as another entity's short form, the
        full names it may be a short form of (``l:``/``h:``, index-backed like names), and
        with ``store_blocking_keys`` also its blocking keys."""
        keys = ["n:" + name.key, "x:" + name.key]  # x: as another entity's short form
        short = self._short_form_lookup(name, tkey)  # the full names it may abbreviate
        if short and self.config.store_short_forms:
            keys.append(short)
        if self.config.store_blocking_keys:
            keys += self._link_keys(name)
        return keys

    def fetch(self, store: GraphStore, keys) -> None:
        """Load the store's entities holding any of ``keys`` into the in-run memory; keys
        asked for before in this run are not asked again (the in-run memory has their
        entities, and only this run writes to the store)."""
        if self.fetched_from != id(store):
            self.fetched, self.fetched_from = set(), id(store)
            self.store_nbrs, self.store_docs = {}, {}
        new = [k for k in keys if k not in self.fetched]
        if new:
            self.fetched.update(new)
            for entity in store.find_entities(new):
                self.absorb(entity)

    def _store_evidence(self, store: GraphStore | None, slots) -> None:
        """Load what the store knows of these entities of earlier runs (their related
        entities and their documents, this document's own old version left out) into
        ``store_nbrs``/``store_docs``, once per entity and run."""
        if store is None:
            return
        want = [s for s in dict.fromkeys(slots) if s in self.stored and s not in self.store_docs]
        if not want:
            return
        ids = [self.e_id[s] for s in want]
        nbrs = store.entity_neighbours(ids)
        docs = store.entity_documents(ids)
        for s, eid in zip(want, ids, strict=True):
            self.store_nbrs[s] = nbrs.get(eid, {})
            self.store_docs[s] = docs.get(eid, set())

    def _store_docs(self, slot: int) -> set[str]:
        return self.store_docs.get(slot, set()) - {self.document_id}

    def _in_context(self, choices, clusters, neighbours, store: GraphStore | None = None):
        """Short-form links with evidence beyond the name, whose entity either

        * shares a *neighbour* with the cluster: an entity the document relates to the
          short form, that a relation of an earlier document of this run, or of another
          document in the store, also ties to the candidate ("the founder of Nordwind,
          Klaus Vogel" -> "Nordwind Energie GmbH", founded by Klaus Vogel), when
          ``short_form_neighbours`` is on; or
        * shares a document (of this run, or another one in the store) with
          ``short_form_min_context`` other (non-literal) entities this document links
          to: a bare "Taylor" joins "Cecil Taylor" only where the two documents have
          something else in common.

        What the store holds of the document being resolved (its old version) is no
        evidence for it.

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
        candidates = [slot for _, _, slot, rule, _, _ in choices if rule == match.RULE_SHORT_FORM]
        if any(slot in self.stored for slot in candidates):  # entities of earlier runs
            self._store_evidence(store, [*candidates, *context])
        kept = []
        for choice in choices:
            neg, i, slot, rule, target, evidence = choice
            if rule != match.RULE_SHORT_FORM:
                kept.append(choice)
                continue
            nbrs = self.e_nbrs[slot]
            stored_nbrs = self.store_nbrs.get(slot, {})
            own = {self.document_id}
            shared_nbrs = sorted(
                {
                    self.e_display[linked[j]]
                    for j in neighbours.get(i, ())
                    if j in linked
                    and linked[j] != slot
                    and (
                        linked[j] in nbrs or bool(stored_nbrs.get(self.e_id[linked[j]], own) - own)
                    )
                }
            )
            if use_neighbours and shared_nbrs:
                evidence = "shared neighbour: " + "; ".join(shared_nbrs[:3])
                kept.append((neg, i, slot, rule, target, evidence))
                continue
            docs, stored_docs = self.e_docs[slot], self._store_docs(slot)
            shared = sorted(
                self.e_display[other]
                for other in context
                if other != slot
                and (docs & self.e_docs[other] or stored_docs & self._store_docs(other))
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
        self.stored.add(slot if slot is not None else len(self.e_id))
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
