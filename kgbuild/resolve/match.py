"""The pairwise rules that may join two names, each a plain function of two :class:`Name`.

Symmetric rules say two names are spelled-differently versions of each other:
:func:`same_sorted_tokens`, :func:`fuzzy_score`. Directional rules say a *short*
name can stand for a *long* one: :func:`person_compatible` ("J. Smith" ->
"John Smith"), :func:`last_name`, :func:`first_name`, :func:`partial`,
:func:`acronym`. Directional rules only join when exactly one long candidate
exists (see :mod:`kgbuild.resolve.resolver`); these functions only answer "could".

Rule names recorded in merge explanations are the ``RULE_*`` constants.
"""

from __future__ import annotations

from collections.abc import Sequence

from rapidfuzz import fuzz

from kgbuild.resolve.normalize import LITERAL, PERSON, Name

RULE_SAME_KEY = "same_key"
RULE_SORTED = "sorted_tokens"
RULE_FUZZY = "fuzzy"
RULE_PERSON = "person_name"
RULE_LAST = "last_name"
RULE_FIRST = "first_name"
RULE_DOUBLE_SURNAME = "double_surname"
RULE_PARTIAL = "partial"
RULE_ACRONYM = "acronym"
RULE_EXACT_NAME = "linked_exact_name"
RULE_EXACT_ALIAS = "linked_exact_alias"
RULE_SHORT_ALIAS = "linked_short_alias"
RULE_SAME_ID = "linked_same_id"
RULE_SHORT_FORM = "linked_short_form"
RULE_SHORT_FORM_AMBIGUOUS = "short_form_ambiguous"

#: Cross-document links by a full name (not a short form, acronym or partial name).
FULL_NAME_RULES = frozenset({RULE_EXACT_NAME, RULE_EXACT_ALIAS, RULE_SORTED, RULE_FUZZY})


def same_sorted_tokens(a: Name, b: Name) -> bool:
    """Same words in another order ("Obama Barack", "13 March 1963" ~ "March 13, 1963")."""
    return len(a.tokens) > 1 and a.key != b.key and sorted(a.tokens) == sorted(b.tokens)


#: A misspelled word still has this rapidfuzz ratio to the right one ("jonh"/"john": 75).
WORD_TYPO_RATIO = 75.0


def fuzzy_score(a: Name, b: Name, threshold: float, min_length: int) -> float:
    """rapidfuzz ratio of the keys if it reaches ``threshold`` and looks like a typo, else 0.

    A typo changes letters inside words; it does not change the number of words, a
    whole word ("Kyoto"/"Tokyo Imperial Palace", "Actor"/"Actress"), a word ending
    ("Korea"/"Korean", "Award"/"Awards": often another entity), a first letter
    ("Eastern"/"Western") or a number ("Apollo 11"/"Apollo 12", "World War I"/"II").
    So: same number of words, and every differing word pair has 4+ letters, the same
    first letter, neither is the start of the other, and their ratio is at least
    :data:`WORD_TYPO_RATIO`. Never for literals (dates, numbers) or keys shorter
    than ``min_length``.
    """
    if a.kind == LITERAL or b.kind == LITERAL or a.numbers != b.numbers:
        return 0.0
    if len(a.key) < min_length or len(b.key) < min_length or len(a.tokens) != len(b.tokens):
        return 0.0
    score = fuzz.ratio(a.key, b.key, score_cutoff=threshold)
    if not score:
        return 0.0
    for x, y in zip(a.tokens, b.tokens, strict=True):
        if x == y:
            continue
        if len(x) < 4 or len(y) < 4 or x[0] != y[0] or x.startswith(y) or y.startswith(x):
            return 0.0
        if not fuzz.ratio(x, y, score_cutoff=WORD_TYPO_RATIO):
            return 0.0
    return score


def _given_match(x: str, y: str) -> bool:
    return x == y or (len(x) == 1 and y[0] == x) or (len(y) == 1 and x[0] == y)


def _embeds(short: tuple[str, ...], long: tuple[str, ...], initials: bool = True) -> bool:
    """The first given names match, and each further given name of ``short`` matches one
    of ``long`` in order (an initial matches a name it starts). With ``initials=False``
    the first given names must be spelled out and equal."""
    if not (_given_match(short[0], long[0]) if initials else short[0] == long[0]):
        return False
    i = 1
    for t in short[1:]:
        while i < len(long) and not _given_match(t, long[i]):
            i += 1
        if i == len(long):
            return False
        i += 1
    return True


def person_compatible(a: Name, b: Name, initials: bool = True) -> bool:
    """Two full person names that may be one person.

    Same last name; the same suffix if both have one, and the same roman numeral
    whenever one has it ("False Dmitri" is not "False Dmitri II"); the same first
    given name (or its initial), the other given names of one embedding in the
    other's in order: "J. H. Dearle" ~ "John Henry Dearle" ~ "John Dearle"; "Tigran
    Petrosian" ~ "Tigran Vartanovich Petrosian"; not "John Smith" ~ "Jane Smith",
    not "David Rockefeller" ~ "John D. Rockefeller".

    ``initials=False`` (used across documents, where no context vouches for it): the first
    given names must be written out and equal, so "J. Smith" does not become "John Smith"
    just because he was the first J. Smith seen.
    """
    if a.kind != PERSON or b.kind != PERSON or not a.given or not b.given:
        return False
    if a.last != b.last or a.key == b.key:
        return False
    if a.suffix != b.suffix and ((a.suffix and b.suffix) or set(a.numbers) != set(b.numbers)):
        return False
    return _embeds(a.given, b.given, initials) or _embeds(b.given, a.given, initials)


def last_name(short: Name, long: Name) -> bool:
    """``short`` is ``long``'s last name, or its final words: "Obama" -> "Barack Obama"."""
    if short.kind != PERSON or long.kind != PERSON or not long.given:
        return False
    core = long.tokens[: len(long.tokens) - len(long.suffix)]
    n = len(short.tokens)
    return n < len(core) and core[-n:] == short.tokens


def first_name(short: Name, long: Name) -> bool:
    """``short`` is ``long``'s first given name: "Barack" -> "Barack Obama"."""
    return (
        short.kind == PERSON
        and long.kind == PERSON
        and len(short.tokens) == 1
        and len(short.key) > 1
        and bool(long.given)
        and long.given[0] == short.key
    )


def partial(short: Name, long: Name, stopwords: frozenset[str]) -> bool:
    """A non-person name that is the first or last words of a longer one.

    "Fyllingen" -> "Fyllingen Fotball", "Platense" -> "Club Atlético Platense". The
    short name must hold a word that is neither a stopword nor a number.
    """
    if short.kind != long.kind or short.kind in (PERSON, LITERAL):
        return False
    n = len(short.tokens)
    if n >= len(long.tokens):
        return False
    if all(t in stopwords or t.isdigit() for t in short.tokens):
        return False
    return long.tokens[:n] == short.tokens or long.tokens[-n:] == short.tokens


def head(short: Name, long: Name, stopwords: frozenset[str]) -> bool:
    """A non-person name that is the first words of a longer one (legal suffixes are
    already gone from both keys): "Nordwind" -> "Nordwind Energie GmbH". The short name
    must hold a word that is neither a stopword nor a number, and not be the kind of
    body of an "X of Y" name (:func:`kind_of_body`).
    """
    n = len(short.tokens)
    return (
        partial(short, long, stopwords)
        and long.tokens[:n] == short.tokens
        and not kind_of_body(long.tokens, n, stopwords)
    )


def kind_of_body(tokens: Sequence[str], n: int, stopwords: frozenset[str]) -> bool:
    """Whether the first ``n`` words of a name are followed by a stopword, as in "X of Y"
    names ("Parliament of the United Kingdom", "Bank of America"): there the first words
    say what kind of body it is and the name follows the stopword, so a bare "Parliament"
    is no short form of it."""
    return len(tokens) > n and tokens[n] in stopwords


def acronym(short: Name, long: Name) -> bool:
    """``short`` looks like an acronym and abbreviates the multi-word ``long``: "IBM"."""
    return short.acronym_like and short.key.replace(" ", "") in long.acronyms
