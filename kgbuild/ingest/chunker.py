"""Split a document into sentence-aware chunks that fit the extractor's window.

The extractor reads a limited number of tokens at a time, so a document is cut
into chunks of at most ``max_tokens`` tokens, counted with the extractor's own
tokenizer (``token_spans``). Chunks are made of whole sentences where possible:

1. The document is tokenized once, and split into sentences (character spans).
2. Whole sentences are packed greedily into a chunk while its token count
   stays within ``max_tokens``.
3. The next chunk starts with the previous chunk's trailing sentences that
   total at most ``overlap_tokens`` tokens, so an entity pair cut by a chunk
   border still meets in one chunk.
4. A sentence longer than ``max_tokens`` is cut into pieces at token
   boundaries (at a space where one is near), never truncated.
5. Each chunk is re-tokenized on its own to check the budget (a tokenizer may
   count a chunk's text differently from the same span inside the document,
   e.g. WordPiece on a word cut in two); a chunk over budget is shrunk.

Every chunk satisfies ``document.text[chunk.start:chunk.end] == chunk.text``,
starts and ends with non-whitespace, and every non-whitespace character of the
document lies in at least one chunk. The work is linear in the document size.

Example::

    chunks = chunk_document(doc, extractor.token_spans, max_tokens=200, overlap_tokens=32)
"""

from __future__ import annotations

import logging
import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from kgbuild.ids import chunk_id
from kgbuild.types import Chunk, Document

__all__ = [
    "ChunkerConfig",
    "SentenceSplitter",
    "TokenSpans",
    "chunk_document",
    "get_sentence_splitter",
    "split_sentences",
]

logger = logging.getLogger(__name__)

#: ``text -> [(start, end), ...]``: character spans of the extractor's tokens in ``text``.
TokenSpans = Callable[[str], list[tuple[int, int]]]
#: ``text -> [(start, end), ...]``: character spans of the sentences of ``text``, in order.
SentenceSplitter = Callable[[str], list[tuple[int, int]]]


class ChunkerConfig(BaseModel):
    """How documents are chunked.

    ``max_tokens=None`` takes the budget from the extractor
    (``extractor.max_text_tokens(entity_types, relation_types)``); a larger
    value than the extractor allows is lowered to it (see :meth:`resolve_max_tokens`).
    """

    model_config = ConfigDict(extra="forbid")

    max_tokens: int | None = Field(default=None, ge=1)
    overlap_tokens: int = Field(default=32, ge=0)
    sentence_splitter: Literal["spacy", "regex"] = "spacy"

    @model_validator(mode="after")
    def _overlap_fits(self) -> ChunkerConfig:
        if self.max_tokens is not None:
            _check_budget(self.max_tokens, self.overlap_tokens)
        return self

    def resolve_max_tokens(self, extractor_max_tokens: int) -> int:
        """The token budget to chunk with, given what the extractor's window leaves for text."""
        if self.max_tokens is None:
            budget = extractor_max_tokens
        elif self.max_tokens > extractor_max_tokens:
            logger.warning(
                "chunker max_tokens=%d exceeds the extractor's %d text tokens; using %d",
                self.max_tokens,
                extractor_max_tokens,
                extractor_max_tokens,
            )
            budget = extractor_max_tokens
        else:
            budget = self.max_tokens
        _check_budget(budget, self.overlap_tokens)
        return budget


def _check_budget(max_tokens: int, overlap_tokens: int) -> None:
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")
    if not 0 <= overlap_tokens or not overlap_tokens < max_tokens / 2:
        raise ValueError(
            f"overlap_tokens must be >= 0 and < max_tokens/2 "
            f"(got overlap_tokens={overlap_tokens}, max_tokens={max_tokens})"
        )


# --- sentence splitting -----------------------------------------------------------------------

#: A blank line: a paragraph break (CRLF included). Sentences never cross one.
_PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n\s*")
#: Sentence-final punctuation of CJK scripts: a sentence ends there, space after it or not.
_CJK_END = re.compile(r"[。！？｡]+[」』）】〕\"'”’)\]]*")
#: Sentence end in scripts that put spaces between sentences: . ! ? … । ؟ (and closing
#: quotes/brackets), then whitespace, then not a lower-case letter or continuing punctuation.
_LATIN_END = re.compile(r"[.!?…।؟]+[\"'”’»)\]]*\s+(?=[^\s\-a-z,;:])")
#: Words before a period that do not end a sentence.
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st mt ft inc corp co ltd llc plc bros dept univ vs etc e.g i.e "
    "cf al approx no nos vol fig jan feb mar apr jun jul aug sep sept oct nov dec gen col "
    "lt sgt capt gov sen rep rev u.s u.k u.n".split()
)
#: spaCy's blank tokenizer copes with long texts, but not past nlp.max_length; stay well below.
_MAX_SEGMENT_CHARS = 100_000


def split_sentences(text: str, splitter: str | SentenceSplitter = "spacy") -> list[tuple[int, int]]:
    """Sentence spans ``(start, end)`` of ``text``, in order, trimmed of surrounding whitespace.

    Args:
        text: Any text, of any size.
        splitter: ``"spacy"`` (spaCy's rule-based sentencizer on ``spacy.blank("en")``),
            ``"regex"`` (punctuation rules, no dependency), or a callable of the same shape.
    """
    return _as_splitter(splitter)(text)


def get_sentence_splitter(name: str) -> SentenceSplitter:
    """The built-in sentence splitter called ``name`` (``"spacy"`` or ``"regex"``)."""
    if name == "spacy":
        return _spacy_sentences
    if name == "regex":
        return _regex_sentences
    raise ValueError(f"unknown sentence splitter {name!r}: use 'spacy' or 'regex'")


def _as_splitter(splitter: str | SentenceSplitter) -> SentenceSplitter:
    return get_sentence_splitter(splitter) if isinstance(splitter, str) else splitter


def _segments(text: str) -> Iterator[tuple[int, int]]:
    """Paragraphs of ``text`` (split at blank lines), each at most ``_MAX_SEGMENT_CHARS`` long."""
    start = 0
    for m in _PARAGRAPH_BREAK.finditer(text):
        yield from _bounded(text, start, m.start())
        start = m.end()
    yield from _bounded(text, start, len(text))


def _bounded(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """Cut an over-long paragraph at a line break or space near the limit (rarely needed)."""
    while end - start > _MAX_SEGMENT_CHARS:
        limit = start + _MAX_SEGMENT_CHARS
        half = start + _MAX_SEGMENT_CHARS // 2
        cut = text.rfind("\n", half, limit)
        if cut == -1:
            cut = text.rfind(" ", half, limit)
        cut = limit if cut == -1 else cut + 1
        yield start, cut
        start = cut
    if start < end:
        yield start, end


def _cjk_cuts(text: str, start: int, end: int) -> list[int]:
    """Sentence starts inside ``text[start:end]`` after CJK full stops (no space follows them)."""
    return [m.end() for m in _CJK_END.finditer(text, start, end)]


def _regex_sentences(text: str) -> list[tuple[int, int]]:
    cuts = []
    for seg_start, seg_end in _segments(text):
        cuts.append(seg_start)
        for m in _LATIN_END.finditer(text, seg_start, seg_end):
            word = _word_before(text, m.start(), seg_start).lower().lstrip("(\"'")
            if word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
                continue  # "Dr. Smith", "J. Doe"
            cuts.append(m.end())
        cuts.extend(_cjk_cuts(text, seg_start, seg_end))
    return _spans_from_cuts(text, cuts)


def _word_before(text: str, i: int, lo: int) -> str:
    """The (at most 20 characters of the) word ending at ``i``."""
    j = i
    while j > lo and i - j < 20 and not text[j - 1].isspace():
        j -= 1
    return text[j:i]


@lru_cache(maxsize=1)
def _spacy_pipeline() -> Any:
    """``spacy.blank("en")`` with the rule-based sentencizer, created once per process."""
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.max_length = 2 * _MAX_SEGMENT_CHARS
    return nlp


def _spacy_sentences(text: str) -> list[tuple[int, int]]:
    nlp = _spacy_pipeline()
    segments = list(_segments(text))
    cuts: list[int] = []
    docs = nlp.pipe((text[s:e] for s, e in segments), batch_size=64)
    for (seg_start, seg_end), doc in zip(segments, docs, strict=True):
        cuts.extend(seg_start + sent.start_char for sent in doc.sents)
        # spaCy's English tokenizer keeps "。" inside a CJK run, so cut there ourselves.
        cuts.extend(_cjk_cuts(text, seg_start, seg_end))
    return _spans_from_cuts(text, cuts)


def _spans_from_cuts(text: str, cuts: list[int]) -> list[tuple[int, int]]:
    """Sentences between consecutive cut points, trimmed; all-whitespace ones dropped."""
    spans = []
    bounds = sorted(set(cuts) | {0, len(text)})
    for start, end in zip(bounds, bounds[1:], strict=False):
        span = _trim(text, start, end)
        if span is not None:
            spans.append(span)
    return spans


def _trim(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


# --- chunking ---------------------------------------------------------------------------------


class _Unit:
    """A packing unit: a sentence, or a piece of an over-long one.

    ``start``/``end`` are the trimmed character span; ``t0``/``t1`` the range of
    document tokens that belong to it (by token start).
    """

    __slots__ = ("start", "end", "t0", "t1")

    def __init__(self, start: int, end: int, t0: int, t1: int) -> None:
        self.start, self.end, self.t0, self.t1 = start, end, t0, t1


def chunk_document(
    document: Document,
    token_spans: TokenSpans,
    max_tokens: int,
    overlap_tokens: int = 32,
    splitter: str | SentenceSplitter = "spacy",
    *,
    verify: bool = True,
) -> list[Chunk]:
    """Cut a document into sentence-aware, overlapping chunks of at most ``max_tokens`` tokens.

    Args:
        document: The document; offsets refer to ``document.text``.
        token_spans: The extractor's tokenizer: character spans of its tokens in a
            text, without special tokens (``Extractor.token_spans``). It is called
            once with ``document.text`` itself (the same object), then once per
            chunk text when ``verify`` is on.
        max_tokens: Most tokens of text in one chunk (as counted by ``token_spans``
            on the chunk's own text).
        overlap_tokens: Consecutive chunks share whole trailing sentences of the
            earlier chunk totalling at most this many tokens (must be ``< max_tokens/2``).
            Inside a sentence too long for one chunk, the pieces overlap the same way.
        splitter: ``"spacy"``, ``"regex"``, or a callable returning sentence spans.
        verify: Re-tokenize each chunk on its own and shrink it if the tokenizer
            counts more tokens there than inside the whole document. Only a
            tokenizer known to count the same either way may skip this.

    Returns:
        Chunks with ids from :func:`kgbuild.ids.chunk_id` and indices ``0..n-1``;
        no chunks for a whitespace-only document. Each takes ``page`` / ``section``
        from the document section holding its first character, ``page_end`` from
        the one holding its last (:attr:`Document.sections`).

    Raises:
        ValueError: ``max_tokens < 1``, ``overlap_tokens`` out of range, or a
            tokenizer whose spans fall outside the text.
    """
    _check_budget(max_tokens, overlap_tokens)
    text = document.text
    starts, ends = _token_starts_ends(token_spans(text), len(text), document.id)
    sentences = _as_splitter(splitter)(text)
    units = _units(text, starts, ends, sentences, max_tokens, overlap_tokens, document.id)

    chunks: list[Chunk] = []
    i, n = 0, len(units)
    while i < n:
        # Greedy: as many whole units as fit (every unit fits alone, see _units).
        j = i + 1
        while j < n and units[j].t1 - units[i].t0 <= max_tokens:
            j += 1
        if verify:
            j = _shrink_to_fit(text, starts, units, i, j, token_spans, max_tokens, document.id)
            n = len(units)  # _shrink_to_fit may split a unit in two
        start, end = units[i].start, units[j - 1].end
        first, last = document.locate(start), document.locate(end - 1)
        chunks.append(
            Chunk(
                id=chunk_id(document.id, start, end),
                document_id=document.id,
                index=len(chunks),
                start=start,
                end=end,
                text=text[start:end],
                page=first.page if first else None,
                page_end=last.page if last else None,
                section=first.heading if first else None,
            )
        )
        if j >= n:
            break
        # Overlap: step back over trailing units worth at most overlap_tokens, but always advance.
        k = j
        while k - 1 > i and units[j - 1].t1 - units[k - 1].t0 <= overlap_tokens:
            k -= 1
        i = k
    return chunks


def _token_starts_ends(
    spans: list[tuple[int, int]], length: int, doc_id: str
) -> tuple[list[int], list[int]]:
    """Token starts (sorted) and their ends; checks the tokenizer kept to the text."""
    starts = [s for s, _ in spans]
    ends = [e for _, e in spans]
    if any(a > b for a, b in zip(starts, starts[1:], strict=False)):
        order = sorted(range(len(spans)), key=starts.__getitem__)
        starts = [starts[k] for k in order]
        ends = [ends[k] for k in order]
    if starts and (starts[0] < 0 or max(ends) > length):
        raise ValueError(f"{doc_id}: token spans fall outside the text (length {length})")
    return starts, ends


def _units(
    text: str,
    starts: list[int],
    ends: list[int],
    sentences: list[tuple[int, int]],
    max_tokens: int,
    overlap_tokens: int,
    doc_id: str,
) -> list[_Unit]:
    """Packing units: one per sentence, over-long sentences cut into pieces.

    Units tile the text between cut points (sentence starts), so every
    character that is not whitespace belongs to exactly one unit, whatever the
    splitter returned. A cut inside a token moves to that token's start.
    """
    inner = {_snap(s, starts, ends) for s, _ in sentences if 0 < s < len(text)}
    cuts = sorted({0, len(text)} | inner)
    units: list[_Unit] = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        span = _trim(text, a, b)
        if span is None:
            continue
        t0, t1 = bisect_left(starts, a), bisect_left(starts, b)
        if t1 - t0 <= max_tokens:
            units.append(_Unit(span[0], span[1], t0, t1))
            continue
        logger.info(
            "%s: sentence at offset %d has %d tokens (> %d); splitting it at token boundaries",
            doc_id,
            span[0],
            t1 - t0,
            max_tokens,
        )
        units.extend(_pieces(text, starts, ends, a, b, t0, t1, overlap_tokens or max_tokens))
    return units


def _snap(cut: int, starts: list[int], ends: list[int]) -> int:
    """Move a cut that falls inside a token to that token's start."""
    k = bisect_left(starts, cut) - 1
    if k >= 0 and ends[k] > cut:
        return starts[k]
    return cut


def _pieces(
    text: str,
    starts: list[int],
    ends: list[int],
    a: int,
    b: int,
    t0: int,
    t1: int,
    size: int,
) -> Iterator[_Unit]:
    """Cut ``text[a:b]`` (tokens ``t0..t1``) into pieces of at most ``size`` tokens.

    A piece ends at a space between tokens when there is one in the second half
    of its window, so chunks start on whole words (which re-tokenize the same).
    """
    piece_start, t = a, t0
    while t < t1:
        stop = min(t + size, t1)
        if stop < t1:
            for cand in range(stop, t + max(1, size // 2), -1):
                if starts[cand] > ends[cand - 1]:  # a gap (space) before token `cand`
                    stop = cand
                    break
            stop = _boundary(starts, stop, t, t1) or t1
        piece_end = starts[stop] if stop < t1 else b
        span = _trim(text, piece_start, piece_end)
        if span is not None:
            yield _Unit(span[0], span[1], t, stop)
        piece_start, t = piece_end, stop


def _boundary(starts: list[int], k: int, lo: int, hi: int) -> int | None:
    """A token index in ``(lo, hi)`` at or near ``k`` where a new character begins.

    Several tokens can share one character (WordPiece turns a Hangul syllable
    into three jamo tokens): a cut must not separate them, or a character's
    tokens would be counted in one unit while the character lies in the next.
    """
    first = bisect_left(starts, starts[k], lo, k + 1)  # first token at that character
    if first > lo:
        return first
    after = bisect_right(starts, starts[lo], lo, hi)  # else the next character after lo
    return after if after < hi else None


def _shrink_to_fit(
    text: str,
    starts: list[int],
    units: list[_Unit],
    i: int,
    j: int,
    token_spans: TokenSpans,
    max_tokens: int,
    doc_id: str,
) -> int:
    """Re-tokenize ``units[i:j]`` as one text; drop (or split) trailing units until it fits.

    Returns the (possibly smaller) exclusive end ``j``; may split ``units[i]``
    in place when even a single unit is over budget on its own.
    """
    while True:
        start, end = units[i].start, units[j - 1].end
        count = len(token_spans(text[start:end]))
        if count <= max_tokens:
            return j
        if j - 1 > i:
            j -= 1
            continue
        unit = units[i]
        excess = count - max_tokens
        cut_token = _boundary(starts, max(unit.t0 + 1, unit.t1 - excess), unit.t0, unit.t1)
        if cut_token is None:
            # One token that the tokenizer counts as many on its own: nothing left to cut.
            raise ValueError(
                f"{doc_id}: the text at {start}:{end} is {count} tokens on its own, "
                f"more than max_tokens={max_tokens}"
            )
        cut = starts[cut_token]
        head, tail = _trim(text, unit.start, cut), _trim(text, cut, unit.end)
        logger.debug(
            "%s: text at %d re-tokenizes to %d tokens; cut at %d", doc_id, start, count, cut
        )
        replacement = [
            _Unit(s, e, t0, t1)
            for span, t0, t1 in ((head, unit.t0, cut_token), (tail, cut_token, unit.t1))
            if span is not None
            for s, e in [span]
        ]
        units[i : i + 1] = replacement
