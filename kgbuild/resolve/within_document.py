"""Within one document: name groups joined by the symmetric rules, the person-name pass
and the short-form pass, then gathered into clusters (steps 1 and 2 of
:mod:`kgbuild.resolve.resolver`). A part of the resolver's engine."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
from rapidfuzz import fuzz, process

from kgbuild.resolve import match
from kgbuild.resolve.groups import (
    _GROUP,
    _SURFACE,
    MergeDecision,
    _Cluster,
    _Group,
    _rank,
)
from kgbuild.resolve.normalize import LITERAL, OTHER, PERSON, Name
from kgbuild.resolve.overrides import (
    RULE_OVERRIDE_DIFFERENT,
    RULE_OVERRIDE_SAME,
)

logger = logging.getLogger(__name__)


class WithinDocumentPasses:
    """The engine's within-document passes (mixed into ``_Engine``)."""

    def _group(
        self, texts: Sequence[str], labels: Sequence[str], starts: Sequence[int] | None = None
    ) -> tuple[list[_Group], list[int]]:
        by_key: dict[tuple[str, str], int] = {}
        groups: list[_Group] = []
        mention_group: list[int] = []
        analyze = self.norm.analyze
        for i, (text, label) in enumerate(zip(texts, labels, strict=True)):
            tk, kind = self.type_of(label)
            name = analyze(text, kind)
            gk = (tk, name.key)
            g = by_key.get(gk)
            pos = i if starts is None else starts[i]
            if g is None:
                g = by_key[gk] = len(groups)
                groups.append(_Group(name, tk, i, pos))
            grp = groups[g]
            if pos < grp.pos:
                grp.pos = pos
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
        """Pass c: last/first names, name starts/ends and acronyms join their one cluster;
        a surname that fits several people joins the document's subject when that is one
        of them and was introduced before the others (see ``last_name_subject``); a lone
        word that fits no one joins the subject whose first of two surnames it is (see
        ``match_double_surname``); the parts of a compound name stay apart from it (see
        ``partial_compounds_apart``)."""
        cfg = self.config
        compatible = cfg.types_compatible
        decisions: list[tuple[int, int, str]] = []
        subjects: dict[str, int] | None = None  # type key -> root of its subject
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
            if len(found) > 1 and a.kind == PERSON and cfg.last_name_subject is not None:
                if subjects is None:
                    subjects = self._subjects(groups, uf)
                subject = subjects.get(grp.tkey)
                if (
                    subject in found
                    and found[subject][1] == match.RULE_LAST
                    and self._leads(groups, uf, subject, found)
                ):
                    logger.debug("surname %r fits several people; joins the subject", a.surface)
                    found = {subject: found[subject]}
            if not found and a.kind == PERSON and cfg.match_double_surname:
                if subjects is None:
                    subjects = self._subjects(groups, uf)
                h = self._double_surname(groups, uf, g, subjects.get(grp.tkey))
                if h is not None:
                    found[uf.find(h)] = (h, match.RULE_DOUBLE_SURNAME)
            if len(found) == 1:
                ((h, rule),) = found.values()
                decisions.append((g, h, rule))
            elif len(found) > 1:
                grp.ambiguous = True
                logger.debug("short name %r fits %d clusters; kept apart", a.surface, len(found))
        if cfg.partial_compounds_apart:
            decisions = self._compound_parts_apart(groups, decisions)
        for g, h, rule in decisions:
            groups[g].primary = False
            self._join(uf, groups, g, h, rule, 100.0, explain)

    def _compound_parts_apart(
        self, groups: list[_Group], decisions: list[tuple[int, int, str]]
    ) -> list[tuple[int, int, str]]:
        """Drop the partial joins that would fuse a name with a part of a compound name.

        * A long name whose first words and whose last words are both names of the
          document of their own is a compound of two entities ("University of
          Pennsylvania's Annenberg School of Communications": the school of the
          university; "University College London Hospitals NHS Foundation Trust"): it
          takes neither as a short form.
        * A name's last words do not join it when the name itself joins a longer one as
          its first words: they are the middle of that longer name, not a short form of
          it ("Enix" of "Square Enix" beside "Square Enix Europe"; "Shougang" of "Beijing
          Shougang" beside "Beijing Shougang Ducks").
        """
        starts: dict[int, list[int]] = {}  # long group -> groups joining it as its start
        ends: dict[int, list[int]] = {}  # ... as its end (and not its start)
        for g, h, rule in decisions:
            if rule == match.RULE_PARTIAL:
                short, long = groups[g].name.tokens, groups[h].name.tokens
                side = starts if long[: len(short)] == short else ends
                side.setdefault(h, []).append(g)
        drop: set[int] = set()
        for h, heads in starts.items():
            n = len(groups[h].name.tokens)
            for g in heads:
                for t in ends.get(h, ()):
                    if len(groups[g].name.tokens) + len(groups[t].name.tokens) <= n:
                        drop.update((g, t))
        for h, tails in ends.items():
            if any(h in heads for heads in starts.values()):
                drop.update(tails)
        if not drop:
            return decisions
        for g in sorted(drop):
            logger.debug("%r is part of a compound name; not joined", groups[g].name.surface)
        return [d for d in decisions if d[0] not in drop]

    def _subjects(self, groups: list[_Group], uf) -> dict[str, int]:
        """For each person type: the root of the cluster named first in the document (by
        character offset), when a full name (a given name and a surname) opens it: the
        person an article is about comes first, and a bare surname later in the text is
        most often theirs ("Franck Piccard ... his sister Leila Piccard ... Piccard won")."""
        first: dict[str, int] = {}
        for g, grp in enumerate(groups):
            if grp.name.kind == PERSON and grp.primary:
                have = first.get(grp.tkey)
                if have is None or grp.pos < groups[have].pos:
                    first[grp.tkey] = g
        return {tkey: uf.find(g) for tkey, g in first.items() if groups[g].name.given}

    def _double_surname(self, groups: list[_Group], uf, g: int, subject: int | None) -> int | None:
        """The group of the document's subject whose second-to-last name is the one word
        of group ``g`` ("Endara" of "Guillermo David Endara Galimany": the first of two
        surnames), when no other person of the document has that word in their name and
        ``g`` is a name of its own (not joined to anything yet); else None."""
        word = groups[g].name
        if subject is None or len(word.tokens) != 1:
            return None
        root, hit = uf.find(g), None
        for x, grp in enumerate(groups):
            if x == g or grp.name.kind != PERSON:
                continue
            r = uf.find(x)
            if r == root:
                return None
            if word.key not in grp.name.tokens:
                continue
            if r != subject:
                return None
            name = grp.name
            core = name.tokens[: len(name.tokens) - len(name.suffix)]
            if hit is None and len(core) >= 3 and core[-2] == word.key:
                hit = x
        return hit

    def _leads(self, groups: list[_Group], uf, root: int, roots) -> bool:
        """Whether cluster ``root`` has as many mentions as each other cluster of ``roots``
        and is named at least ``last_name_subject`` characters before each of them."""
        lead = self.config.last_name_subject or 0
        counts = dict.fromkeys(roots, 0)
        start = dict.fromkeys(roots, 1 << 62)
        for g, grp in enumerate(groups):
            r = uf.find(g)
            if r in counts:
                counts[r] += grp.count
                start[r] = min(start[r], grp.pos)
        return all(
            counts[root] >= counts[r] and start[r] - start[root] >= lead for r in roots if r != root
        )

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
