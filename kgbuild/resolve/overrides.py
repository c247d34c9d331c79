"""User decisions that resolution must follow on every run: an overrides file.

::

    {
      "same": [["Nordwind", "Nordwind Energie GmbH"]],
      "different": [["Paris", {"name": "Paris Hilton", "type": "person"}]]
    }

* ``same``: the names of an entry are one entity, whatever the rules say (also across
  types, unless a name gives its ``type``);
* ``different``: the names of an entry are never in one entity, even when every rule
  would merge them.

A name is matched as the resolver compares names: its normalized key (case, accents,
punctuation, possessives, a leading "the", honorifics of persons, legal suffixes of
other names do not matter; see :mod:`kgbuild.resolve.normalize`), so "nordwind" and
"NORDWIND" both mean the "Nordwind" of the text. A name may be a string or
``{"name": ..., "type": ...}`` to match only mentions of that type.

:func:`load_overrides` reads and checks a file: malformed JSON, unknown keys, an entry
with fewer than two names, a name given twice, or a pair that is both "same" and
"different" (also through other "same" entries) are errors naming the entry.
``kgbuild merge`` / ``kgbuild split`` add entries (:func:`add_entry`).

The pipeline records on each document the :meth:`CompiledOverrides.fingerprint` of the
entries that applied to its names; a run whose entries differ for a stored document
re-resolves exactly those documents (see :mod:`kgbuild.pipeline.builder`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from kgbuild.resolve.config import ResolverConfig, type_key
from kgbuild.resolve.normalize import LITERAL, OTHER, PERSON, Normalizer

__all__ = [
    "CompiledOverrides",
    "OverrideName",
    "Overrides",
    "OverridesError",
    "add_entry",
    "load_overrides",
    "save_overrides",
]

logger = logging.getLogger(__name__)

RULE_OVERRIDE_SAME = "override_same"
RULE_OVERRIDE_DIFFERENT = "override_different"


class OverridesError(ValueError):
    """A bad overrides file or entry; the message names the file and the entry."""


class OverrideName(BaseModel):
    """A name as it appears in the text, optionally only for mentions of one type."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    type: str | None = None

    @field_validator("name")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("a name must not be blank")
        return v.strip()

    def label(self) -> str:
        return f"{self.name} ({self.type})" if self.type else self.name

    def as_json(self) -> str | dict[str, str]:
        return {"name": self.name, "type": self.type} if self.type else self.name


class Overrides(BaseModel):
    """The decisions of an overrides file (see the module doc)."""

    model_config = ConfigDict(extra="forbid")

    same: list[list[OverrideName]] = Field(default_factory=list)
    different: list[list[OverrideName]] = Field(default_factory=list)

    @field_validator("same", "different", mode="before")
    @classmethod
    def _names(cls, v: object) -> object:
        if not isinstance(v, list):
            return v
        return [
            [{"name": n} if isinstance(n, str) else n for n in entry]
            if isinstance(entry, list)
            else entry
            for entry in v
        ]

    def entries(self) -> list[tuple[str, int, list[OverrideName]]]:
        """Every entry as (list name, index, names)."""
        return [("same", i, e) for i, e in enumerate(self.same)] + [
            ("different", i, e) for i, e in enumerate(self.different)
        ]

    def to_json(self) -> str:
        data = {
            "same": [[n.as_json() for n in e] for e in self.same],
            "different": [[n.as_json() for n in e] for e in self.different],
        }
        return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def _entry_text(names: Sequence[OverrideName]) -> str:
    return json.dumps([n.as_json() for n in names], ensure_ascii=False)


def load_overrides(path: str | Path) -> Overrides:
    """Read and check an overrides file (:class:`OverridesError` naming what is wrong)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise OverridesError(f"overrides file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise OverridesError(f"overrides file {path} cannot be read: {exc}") from None
    return parse_overrides(text, str(path))


def parse_overrides(text: str, where: str = "overrides") -> Overrides:
    """:func:`load_overrides` for text (``where`` names it in errors)."""
    try:
        data = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise OverridesError(
            f"{where}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    if not isinstance(data, dict):
        raise OverridesError(f'{where}: expected an object {{"same": [...], "different": [...]}}')
    unknown = sorted(set(data) - {"same", "different"})
    if unknown:
        raise OverridesError(
            f"{where}: unknown key {unknown[0]!r} (an overrides file has 'same' and 'different')"
        )
    try:
        overrides = Overrides.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = err["loc"]
        entry = f"{loc[0]}[{loc[1]}]" if len(loc) > 1 else str(loc[0])
        shown = data.get(loc[0])
        if len(loc) > 1 and isinstance(shown, list) and isinstance(loc[1], int):
            shown = shown[loc[1]]
        raise OverridesError(
            f"{where}: {entry} {json.dumps(shown, ensure_ascii=False)}: {err['msg']} (an entry "
            'is a list of names: strings, or {"name": ..., "type": ...})'
        ) from None
    check_overrides(overrides, where)
    return overrides


def check_overrides(overrides: Overrides, where: str = "overrides") -> None:
    """Entries of two or more distinct names; no pair both "same" and "different"."""
    norm = Normalizer(ResolverConfig())

    def ident(n: OverrideName) -> tuple[str, str | None]:
        return norm.analyze(n.name, OTHER).key, type_key(n.type) if n.type else None

    for kind, i, names in overrides.entries():
        if len(names) < 2:
            raise OverridesError(
                f"{where}: {kind}[{i}] {_entry_text(names)}: an entry needs two or more names"
            )
        seen = set()
        for n in names:
            if ident(n) in seen:
                raise OverridesError(
                    f"{where}: {kind}[{i}] {_entry_text(names)}: {n.name!r} is given twice "
                    "(names are compared case-insensitively, as the resolver compares them)"
                )
            seen.add(ident(n))
    # "same" is transitive: a "different" pair inside one "same" group is a contradiction.
    group: dict[tuple[str, str | None], int] = {}
    parent = list(range(len(overrides.same)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, names in enumerate(overrides.same):
        for n in names:
            key = (ident(n)[0], None)  # untyped and typed spellings may meet
            if key in group:
                parent[find(i)] = find(group[key])
            else:
                group[key] = i
    for i, names in enumerate(overrides.different):
        roots = [
            find(group[(ident(n)[0], None)]) if (ident(n)[0], None) in group else None
            for n in names
        ]
        for a in range(len(names)):
            for b in range(a + 1, len(names)):
                if roots[a] is not None and roots[a] == roots[b]:
                    raise OverridesError(
                        f"{where}: different[{i}] {_entry_text([names[a], names[b]])} is also "
                        f"'same' (same[{roots[a]}] {_entry_text(overrides.same[roots[a]])}): "
                        "remove one of the two"
                    )


def save_overrides(overrides: Overrides, path: str | Path) -> None:
    """Write an overrides file (checked first; written whole, then renamed into place)."""
    check_overrides(overrides, str(path))
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(overrides.to_json(), encoding="utf-8")
    tmp.replace(path)


def add_entry(
    overrides: Overrides, kind: Literal["same", "different"], names: Sequence[OverrideName]
) -> tuple[Overrides, list[str]]:
    """``overrides`` with a new entry, and notes on what it replaced.

    Adding "same" for names that an entry keeps "different" removes that entry (the newer
    decision wins), and the other way round; an entry already present is not repeated.
    Raises :class:`OverridesError` if the result contradicts itself another way.
    """
    norm = Normalizer(ResolverConfig())
    keys = {norm.analyze(n.name, OTHER).key for n in names}
    other = "different" if kind == "same" else "same"
    notes = []
    kept_other = []
    for i, entry in enumerate(getattr(overrides, other)):
        entry_keys = {norm.analyze(n.name, OTHER).key for n in entry}
        if len(entry_keys & keys) >= 2:
            notes.append(f"removed {other}[{i}] {_entry_text(entry)}")
            continue
        kept_other.append(entry)
    mine = list(getattr(overrides, kind))
    if any({norm.analyze(n.name, OTHER).key for n in e} == keys for e in mine):
        notes.append(f"{kind} {_entry_text(names)} is already in the file")
    else:
        mine.append(list(names))
    updated = overrides.model_copy(update={kind: mine, other: kept_other})
    check_overrides(updated)
    return updated, notes


# --------------------------------------------------------------------------- compiled
@dataclass(slots=True)
class _Match:
    """What one normalized name means to the overrides."""

    typ: str | None
    entries: set[int] = field(default_factory=set)
    same: int | None = None
    sides: set[tuple[int, int]] = field(default_factory=set)


class CompiledOverrides:
    """Overrides ready for the resolver: names looked up by normalized key and kind.

    ``same`` entries sharing a name form one *group* (ids ``0, 1, ...``); each name of a
    ``different`` entry is a *side* ``(entry, position)``.
    """

    def __init__(self, overrides: Overrides, config: ResolverConfig) -> None:
        self.overrides = overrides
        self.norm = Normalizer(config)
        entries = overrides.entries()
        self.entry_text = [f"{k} {_entry_text(names)}" for k, _, names in entries]
        self._entry_json = [
            json.dumps([k, [n.as_json() for n in names]], ensure_ascii=False, sort_keys=True)
            for k, _, names in entries
        ]
        # kind -> key -> matches (one per type restriction)
        self._by_key: dict[str, dict[str, list[_Match]]] = {PERSON: {}, OTHER: {}, LITERAL: {}}
        self.group_names: dict[int, list[OverrideName]] = {}
        self.side_names: dict[tuple[int, int], OverrideName] = {}
        parent = list(range(len(overrides.same)))

        def find(x: int) -> int:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        first: dict[str, int] = {}
        for i, names in enumerate(overrides.same):
            for n in names:
                k = self.norm.analyze(n.name, OTHER).key
                if k in first:
                    parent[find(i)] = find(first[k])
                else:
                    first[k] = i
        n_same = len(overrides.same)
        for e, (kind, i, names) in enumerate(entries):
            for pos, n in enumerate(names):
                typ = type_key(n.type) if n.type else None
                for name_kind, table in self._by_key.items():
                    key = self.norm.analyze(n.name, name_kind).key
                    matches = table.setdefault(key, [])
                    m = next((x for x in matches if x.typ == typ), None)
                    if m is None:
                        m = _Match(typ)
                        matches.append(m)
                    m.entries.add(e)
                    if kind == "same":
                        m.same = find(i)
                    else:
                        m.sides.add((e - n_same, pos))
                if kind == "same":
                    self.group_names.setdefault(find(i), []).append(n)
                else:
                    self.side_names[(e - n_same, pos)] = n

    def __bool__(self) -> bool:
        return bool(self.entry_text)

    def match(self, key: str, kind: str, tkey: str) -> tuple[set[int], int | None, set]:
        """(entries, same group, different sides) of a name with normalized ``key`` of
        ``kind`` and type key ``tkey``."""
        entries: set[int] = set()
        same: int | None = None
        sides: set[tuple[int, int]] = set()
        for m in self._by_key[kind].get(key, ()):
            if m.typ is None or m.typ == tkey:
                entries |= m.entries
                if m.same is not None:
                    same = m.same
                sides |= m.sides
        return entries, same, sides

    def name_keys(self, names: Iterable[OverrideName]) -> list[str]:
        """The alias-index keys (``n:``, ``x:``) of names, under every kind."""
        out: dict[str, None] = {}
        for n in names:
            for kind in (PERSON, OTHER, LITERAL):
                key = self.norm.analyze(n.name, kind).key
                out["n:" + key] = None
                out["x:" + key] = None
        return list(out)

    def all_name_keys(self) -> list[str]:
        return self.name_keys(n for _, _, names in self.overrides.entries() for n in names)

    def group_key(self, group: int, kind: str) -> str:
        """The normalized key an entity made for a "same" group is named after: its
        fullest name (most words, then characters, then the key)."""
        keys = [self.norm.analyze(n.name, kind).key for n in self.group_names[group]]
        return max(keys, key=lambda k: (len(k.split()), len(k), k))

    def group_display(self, group: int, kind: str) -> str:
        """The fullest name of a "same" group, as the overrides file writes it."""
        key = self.group_key(group, kind)
        return next(
            n.name for n in self.group_names[group] if self.norm.analyze(n.name, kind).key == key
        )

    def fingerprint(self, entries: Iterable[int]) -> str | None:
        """What a document records: a hash of the entries that applied to its names."""
        texts = sorted({self._entry_json[e] for e in entries})
        if not texts:
            return None
        return hashlib.sha256("\n".join(texts).encode()).hexdigest()[:24]

    def entries_of(self, text: str, label: str, kind: str) -> set[int]:
        """The entries a mention (text, type phrase, name kind) falls under."""
        return self.match(self.norm.analyze(text, kind).key, kind, type_key(label))[0]
