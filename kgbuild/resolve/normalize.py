"""Name normalization and blocking keys.

:meth:`Normalizer.analyze` turns one surface form ("Mr. Barack Obama's") into a :class:`Name`:
its normalized key ("barack obama"), tokens, acronyms and the blocking keys that
find candidate matches without comparing every pair of names. The surface form
itself is never changed: it stays the mention's text and becomes an alias.

Steps, in order:

1. Unicode NFKC (full-width letters, ligatures, non-breaking spaces).
2. Dotted acronyms joined ("U.S." -> "US"), except in person names where
   "J.H." means two initials.
3. Possessives dropped ("Obama's", "Jones'").
4. casefold; accents of Latin letters dropped (configurable).
5. Apostrophes inside words dropped ("O'Brien" -> "obrien"), any other
   punctuation or symbol becomes a space (in literals, units such as "%" and "$"
   stay words and "5,000" is "5000"); whitespace collapsed.
6. Leading articles dropped ("the"); for persons leading honorifics ("mr", "dr"),
   for other names trailing corporate suffixes ("inc", "ltd", "gmbh"); always
   leaving at least one word. ("General Motors" keeps its "general".)

Blocking keys (each a short string with a kind prefix; entities store them in
``Entity.keys``, the alias index):

========  =============================================  ==========================
prefix    what                                           finds
========  =============================================  ==========================
``n:``    the normalized key                             exact matches, aliases
``s:``    tokens sorted                                  "Obama Barack"
``k:``    consonant skeleton of the sorted tokens        vowel typos, "Jonh", "Smyth"
``a:``    acronym (of a multi-word name, or the          "IBM" ~ "International
          acronym-looking name itself)                   Business Machines"
``f:``    first + last name (persons)                    middle names: "Barack
                                                         Hussein Obama"
``t:``    two words, one cut to its first letter         a typo in the other word;
                                                         "B. Obama" ~ "Barack Obama"
``w:``    the name with one word left out (3+ words)     a typo in any one word
``l:``    last name of a person name with a given name   "Curie" alone ~ "Marie
          (set by the resolver)                          Curie" elsewhere
``h:``    first word of a multi-word organization name   "Nordwind" ~ "Nordwind
          (set by the resolver)                          Energie GmbH"
``x:``    a short form joined to a fuller name in some   "Holmes" alone ~ "Sherlock
          document (set by the resolver, not here)       Holmes" elsewhere
========  =============================================  ==========================
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from kgbuild.resolve.config import ResolverConfig

#: Kinds of names: persons get first/last-name rules, literals only exact matches.
PERSON, LITERAL, OTHER = "person", "literal", "other"

_DOTTED = re.compile(r"(?<![^\W\d_])([^\W\d_])((?:\.[^\W\d_])+)\.?(?![^\W\d_])")
_POSSESSIVE = re.compile(r"(?<=\w)\s?['’]s\b|(?<=s)['’](?=\s|$)")
_INNER_APOSTROPHE = re.compile(r"(?<=\w)['’`´](?=\w)")
_NON_WORD = re.compile(r"[^\w]+|_+")
_UNITS = re.compile(r"[%‰$€£¥₹°]")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_NON_WORD_OR_UNIT = re.compile(r"[^\w%‰$€£¥₹°]+|_+")
_VOWELS = frozenset("aeiouy")
_ROMAN = re.compile(r"^(?=[ivx])x{0,3}(?:ix|iv|v?i{0,3})$")


@dataclass(frozen=True, slots=True)
class Name:
    """One surface form, analyzed. Cheap to compare; built once per distinct surface."""

    surface: str
    key: str
    tokens: tuple[str, ...]
    kind: str
    acronym_like: bool
    """The surface looks like an acronym itself ("IBM", "U.S.")."""
    acronyms: tuple[str, ...]
    """Acronyms this (multi-word) name would be abbreviated to."""
    last: str
    """Last name for persons (generational suffixes skipped), else ''."""
    given: tuple[str, ...]
    """Person tokens before the last name."""
    suffix: tuple[str, ...]
    """Person tokens after the last name ('jr', 'iii')."""
    numbers: tuple[str, ...]
    """Tokens with digits, and roman numerals: names that differ in them never fuzzy-match
    ("World War I" is not "World War II")."""
    keys: tuple[str, ...]

    @property
    def informativeness(self) -> tuple[int, int]:
        """More words, then more characters: how much a name says."""
        return (len(self.tokens), len(self.key))


class Normalizer:
    """Builds :class:`Name` objects under one config, caching by (surface, kind)."""

    def __init__(self, config: ResolverConfig, cache_size: int = 2_000_000) -> None:
        self.config = config
        self._honorifics = frozenset(config.honorifics)
        self._corporate = frozenset(config.corporate_suffixes)
        self._name_suffixes = frozenset(config.name_suffixes)
        self._articles = frozenset(config.articles)
        self._stopwords = frozenset(config.stopwords)
        self._cache: dict[tuple[str, str], Name] = {}
        self._cache_size = cache_size

    def analyze(self, surface: str, kind: str = OTHER) -> Name:
        """The :class:`Name` of ``surface`` read as a name of ``kind`` (PERSON/LITERAL/OTHER)."""
        ck = (surface, kind)
        name = self._cache.get(ck)
        if name is None:
            name = self._analyze(surface, kind)
            if len(self._cache) >= self._cache_size:
                self._cache.clear()  # a crude bound; names repeat within a run
            self._cache[ck] = name
        return name

    # -- the steps ---------------------------------------------------------------------
    def _analyze(self, surface: str, kind: str) -> Name:
        if not isinstance(surface, str):
            raise TypeError(f"mention text must be a string, got {surface!r}")
        text = unicodedata.normalize("NFKC", surface).strip()
        acronym_like = _looks_like_acronym(text)
        if kind != PERSON:
            text = _DOTTED.sub(lambda m: m.group(1) + m.group(2).replace(".", ""), text)
        text = _POSSESSIVE.sub("", text).casefold()
        if self.config.fold_accents and not text.isascii():
            text = _fold_latin_accents(text)
        text = _INNER_APOSTROPHE.sub("", text)
        if kind == LITERAL:  # "5 %" is not "5", "$5" not "€5": units stay words
            text = _UNITS.sub(r" \g<0> ", _THOUSANDS.sub("", text))
            raw_tokens = _NON_WORD_OR_UNIT.sub(" ", text).split()
        else:
            raw_tokens = _NON_WORD.sub(" ", text).split()
        tokens = self._strip_affixes(raw_tokens, kind)
        if not tokens:  # nothing but punctuation: keep the casefolded text as the key
            tokens = [" ".join(surface.casefold().split())] if surface.strip() else [""]
        key = " ".join(tokens)

        if kind == LITERAL:  # "13 March 1963" ~ "March 13, 1963"; nothing fuzzier
            keys = ("n:" + key,)
            if len(tokens) > 1:
                keys += ("s:" + " ".join(sorted(tokens)),)
            return Name(surface, key, tuple(tokens), kind, False, (), "", (), (), (), keys)

        last, given, suffix = "", (), ()
        if kind == PERSON:
            n = len(tokens)
            while n > 1 and tokens[n - 1] in self._name_suffixes:
                n -= 1
            last, given, suffix = tokens[n - 1], tuple(tokens[: n - 1]), tuple(tokens[n:])

        acronyms = self._acronyms(raw_tokens, tokens) if len(tokens) > 1 and not given else ()
        numbers = tuple(t for t in tokens if _is_number(t))
        keys = self._keys(key, tokens, kind, acronym_like, acronyms, last, given)
        return Name(
            surface,
            key,
            tuple(tokens),
            kind,
            acronym_like,
            acronyms,
            last,
            given,
            suffix,
            numbers,
            keys,
        )

    def _strip_affixes(self, tokens: list[str], kind: str) -> list[str]:
        start, end = 0, len(tokens)
        while end - start > 1 and tokens[start] in self._articles:
            start += 1
        if kind == PERSON:  # "General Motors" is no general
            while end - start > 1 and tokens[start] in self._honorifics:
                start += 1
        else:
            while end - start > 1 and tokens[end - 1] in self._corporate:
                end -= 1
        return tokens[start:end]

    def _acronyms(self, raw_tokens: list[str], tokens: list[str]) -> tuple[str, ...]:
        out: list[str] = []
        for toks in (tokens, raw_tokens):
            content = [t for t in toks if t not in self._stopwords]
            acro = "".join(t[0] for t in content if t)
            if len(acro) >= self.config.min_acronym_length and acro not in out:
                out.append(acro)
        return tuple(out)

    def _keys(
        self,
        key: str,
        tokens: list[str],
        kind: str,
        acronym_like: bool,
        acronyms: tuple[str, ...],
        last: str,
        given: tuple[str, ...],
    ) -> tuple[str, ...]:
        keys = ["n:" + key]
        if len(tokens) > 1:
            ordered = sorted(tokens)
            keys.append("s:" + " ".join(ordered))
        else:
            ordered = tokens
        if len(key) >= 5:
            keys.append("k:" + " ".join(_skeleton(t) for t in ordered))
        if acronym_like and len(tokens) == 1:
            keys.append("a:" + key)
        keys.extend("a:" + a for a in acronyms)
        if kind == PERSON and given and len(given[0]) > 1:
            keys.append("f:" + given[0] + " " + last)  # middle names may differ
        if len(tokens) == 2:  # a typo in one word leaves the other and an initial
            a, b = tokens
            keys.append("t:" + a + " " + b[0])
            keys.append("t:" + a[0] + " " + b)
        elif len(tokens) > 2:
            keys.extend("w:" + " ".join(tokens[:i] + tokens[i + 1 :]) for i in range(len(tokens)))
        return tuple(dict.fromkeys(keys))


def _is_number(token: str) -> bool:
    return any(c.isdigit() for c in token) or _ROMAN.match(token) is not None


def _looks_like_acronym(text: str) -> bool:
    """'IBM', 'U.S.', 'EU', 'ASEAN+3': one word whose letters are all capitals."""
    if " " in text or not 2 <= len(text) <= 12:
        return False
    letters = [c for c in text if c.isalpha()]
    return len(letters) >= 2 and all(c.isupper() for c in letters)


def _fold_latin_accents(text: str) -> str:
    """Drop combining marks that follow a Latin letter ('é' -> 'e'); other scripts untouched.

    Japanese kana also decompose under NFKD (が -> か + mark), so marks are dropped
    only after a base letter below U+0250 (Latin and Latin Extended).
    """
    out: list[str] = []
    for ch in unicodedata.normalize("NFKD", text):
        if unicodedata.combining(ch) and out and ord(out[-1]) < 0x250:
            continue
        out.append(ch)
    return unicodedata.normalize("NFC", "".join(out))


def _skeleton(token: str) -> str:
    """First letter plus the following consonants, doubled letters once: 'smith' -> 'smth'."""
    out = token[:1]
    for c in token[1:]:
        if c not in _VOWELS and c != out[-1]:
            out += c
    return out
