"""Checks on what an entity's text can be, given its type: the model's typing, vetted.

The extractor types spans by meaning, and on technical text it calls version numbers,
section numbers and identifiers dates ("1", "2", "ASN.1" in a protocol manual). A date
has a form that can be checked, so an entity typed as a date (or time, or year) is kept
only when its text looks like one; the relations that hang on a dropped entity go with
it. Other types have no such form and pass unchecked.
"""

from __future__ import annotations

import logging
import re

from kgbuild.extract.base import Extraction

logger = logging.getLogger(__name__)

#: Entity types whose mentions must look like a date or time ("date", "time", "year",
#: "date of birth", "time period", ...).
DATE_TYPE = re.compile(r"\b(date|time|year|day|period)s?\b", re.IGNORECASE)

_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december"
    "|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_WORDS = (
    "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
    "|spring|summer|autumn|fall|winter|christmas|easter"
    "|century|centuries|decade|decades|millennium|era|age|years?|months?|weeks?|days?"
    "|hours?|minutes?|quarter|morning|afternoon|evening|night|noon|midnight|dawn|dusk"
    "|today|yesterday|tomorrow|tonight|now|recently|ago|later|earlier|once|currently"
    "|present|past|future|annual|annually|daily|weekly|monthly|yearly"
    "|recent|latest|upcoming|last|next|this|new|old|early|late|mid"
    "|twenties|thirties|forties|fifties|sixties|seventies|eighties|nineties|noughties"
    "|bc|bce|ad|ce|am|pm|o'clock|utc|gmt"
)
_DATE_FORMS = re.compile(
    rf"\b({_MONTHS}|{_WORDS})\b"
    r"|\b[12]\d{3}s?\b"  # a year: 1867, 2021, 1990s
    r"|'\d0s\b|\b\d0s\b"  # '90s, 60s
    r"|\b\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}\b"  # 7/11/1867, 2021-12-25
    r"|\b\d{1,2}:\d{2}\b"  # 14:30
    r"|\b\d{1,2}(st|nd|rd|th)\b",  # 4th
    re.IGNORECASE,
)


def looks_like_date(text: str) -> bool:
    """Whether ``text`` has the form of a date, time or period: a month or weekday, a
    year (four digits from 1000), a numeric date, a clock time, an ordinal day, or a word
    of time ("century", "spring", "yesterday", "ago").

    >>> [looks_like_date(t) for t in ("4 July 1934", "1990s", "last spring", "ASN.1", "2")]
    [True, True, True, False, False]
    """
    return bool(_DATE_FORMS.search(text))


def is_date_type(entity_type: str) -> bool:
    """Whether mentions of ``entity_type`` must look like dates (:data:`DATE_TYPE`)."""
    return bool(DATE_TYPE.search(entity_type))


def drop_implausible_entities(extraction: Extraction) -> Extraction:
    """``extraction`` without the entities whose text cannot be of their type (a "date"
    that is a bare number or an identifier) and without the relations that involve
    them; relation indices are renumbered. Returns ``extraction`` itself when nothing is
    dropped."""
    keep = [not is_date_type(e.label) or looks_like_date(e.text) for e in extraction.entities]
    if all(keep):
        return extraction
    new_index, kept = {}, []
    for i, (entity, ok) in enumerate(zip(extraction.entities, keep, strict=True)):
        if ok:
            new_index[i] = len(kept)
            kept.append(entity)
        else:
            logger.debug("dropped %r: not the form of a %s", entity.text, entity.label)
    relations = [
        r.model_copy(update={"head": new_index[r.head], "tail": new_index[r.tail]})
        for r in extraction.relations
        if r.head in new_index and r.tail in new_index
    ]
    return Extraction(entities=kept, relations=relations)
