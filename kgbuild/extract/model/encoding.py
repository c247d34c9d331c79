"""Characters <-> words <-> model tokens, in one place.

The model's span unit is the *word*: a character span of the input text. Raw
text is split into words by :func:`split_words`; pre-tokenized datasets give
their own words (joined by single spaces). Each word maps to its first and last
WordPiece token, so every predicted span converts back to exact character
offsets of the original text. Tokens map to words by character overlap
(:func:`word_tokens`), so a SentencePiece tokenizer's tokens, which carry the space
before their word, map as WordPiece tokens do.

The encoder's tokenizer may be uncased (all-MiniLM-L6-v2 is), so casing reaches
the model as a *shape id* per token, computed from the original characters.

Input layout (GLiNER-Relex)::

    [CLS] [E] label1 [E] label2 ... [R] rel1 [R] rel2 ... [SEP] text tokens ... [SEP]
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

#: Words: dotted abbreviations (U.S.), words with inner hyphens/apostrophes, single symbols.
_WORD = re.compile(r"(?:[^\W\d_]\.){2,}|\w+(?:[-'’]\w+)*|[^\w\s]", re.UNICODE)

# Shape ids (0 = not a text token).
SHAPE_PAD, SHAPE_LOWER, SHAPE_TITLE, SHAPE_UPPER, SHAPE_DIGIT, SHAPE_MIXED, SHAPE_PUNCT = range(7)
SHAPE_OTHER = 7
NUM_SHAPES = 8

MARKER_NONE, MARKER_ENTITY, MARKER_RELATION = 0, 1, 2


def split_words(text: str) -> list[tuple[int, int]]:
    """Character spans of the words of ``text``; every non-space character is in one word."""
    return [(m.start(), m.end()) for m in _WORD.finditer(text)]


def join_words(words: list[str]) -> tuple[str, list[tuple[int, int]]]:
    """Text of pre-tokenized words joined by single spaces, with each word's span."""
    spans, pos = [], 0
    for w in words:
        spans.append((pos, pos + len(w)))
        pos += len(w) + 1
    return " ".join(words), spans


@lru_cache(maxsize=1 << 16)
def token_shape(piece: str) -> int:
    """Shape of a token's original characters: how the uncased encoder sees case and digits."""
    if not piece:
        return SHAPE_OTHER
    if any(c.isdigit() for c in piece):
        return SHAPE_DIGIT
    letters = [c for c in piece if c.isalpha()]
    if not letters:
        return SHAPE_PUNCT if all(not c.isalnum() for c in piece) else SHAPE_OTHER
    if all(c.islower() for c in letters):
        return SHAPE_LOWER
    if all(c.isupper() for c in letters):
        return SHAPE_UPPER if len(letters) > 1 else SHAPE_TITLE
    if letters[0].isupper() and all(c.islower() for c in letters[1:]):
        return SHAPE_TITLE
    if not any(c.isupper() or c.islower() for c in letters):
        return SHAPE_OTHER  # scripts without case (CJK, ...)
    return SHAPE_MIXED


@dataclass(frozen=True)
class TextTokens:
    """A text's tokens without special tokens: ids and character offsets, (n,) and (n, 2)."""

    ids: np.ndarray
    offsets: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class EncodedText:
    """A text ready for the model, with the maps back to characters."""

    input_ids: list[int]
    marker_types: list[int]
    shape_ids: list[int]
    entity_marker_positions: list[int]
    relation_marker_positions: list[int]
    #: per word: index of its first / last token in ``input_ids`` (-1 if it has none)
    word_first_token: np.ndarray
    word_last_token: np.ndarray
    #: character span of each word in the original text
    word_spans: list[tuple[int, int]]
    #: number of words that fit in the window (later words were cut off)
    num_words: int


@dataclass(frozen=True)
class RelationLabelBlock:
    """Relation labels to append after each text of a batch, read one way (the
    ``hybrid`` relation-label layout; see ``JointExtractionModel.encode_one_way``).

    The same for every text read with one entity prompt: :meth:`TextEncoder.relation_label_block`.
    """

    input_ids: list[int]
    marker_types: list[int]
    #: each token's position: every group starts where relation labels start in the
    #: joint layout (right after the entity prompt)
    position_ids: list[int]
    #: 2, 3, ...: the group each token belongs to (a group sees itself and the text)
    group_ids: list[int]
    #: where each label's [R] marker is, within the block
    marker_positions: list[int]
    #: where the texts' prompt ends (its [SEP]). The labels' positions start after the
    #: entity labels: here, unless the prompt holds relation labels too (``hybrid``)
    prompt_end: int = 0


class TextEncoder:
    """Builds model inputs from text and label phrases with a fast tokenizer."""

    def __init__(self, tokenizer, max_length: int = 512) -> None:
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.cls_id = tokenizer.cls_token_id
        self.sep_id = tokenizer.sep_token_id
        vocab = tokenizer.get_vocab()
        # Unused vocabulary slots serve as the [E] / [R] markers (their own learned
        # embeddings are added by the model), so the tokenizer needs no new tokens.
        self.entity_marker_id = vocab.get("[unused0]", tokenizer.unk_token_id)
        self.relation_marker_id = vocab.get("[unused1]", tokenizer.unk_token_id)
        self._label_cache: dict[str, list[int]] = {}
        # The Rust tokenizer itself (a copy, so the shared one keeps its settings), without
        # the truncation and padding a checkpoint's tokenizer.json may configure (MiniLM's
        # pads and truncates to 128): the same ids and offsets as the transformers call,
        # without its per-call conversions.
        self._fast = None
        if getattr(tokenizer, "is_fast", False):
            from tokenizers import Tokenizer

            self._fast = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
            self._fast.no_truncation()
            self._fast.no_padding()
        # Tokens of the window-sized texts that token_spans saw last (the chunker checks
        # each chunk's final text with it): the extractor reuses them instead of
        # tokenizing each chunk a second time. Bounded; an entry is dropped once used.
        self._recent: OrderedDict[str, TextTokens] = OrderedDict()
        self._recent_lock = threading.Lock()

    #: Most texts whose tokens :meth:`token_spans` keeps for :meth:`tokenize` (about 5 KB each).
    RECENT_TEXTS = 1024

    def label_ids(self, label: str) -> list[int]:
        ids = self._label_cache.get(label)
        if ids is None:
            ids = self.tokenizer(label, add_special_tokens=False)["input_ids"]
            self._label_cache[label] = ids
        return ids

    def label_tokens(self, labels: Sequence[str]) -> int:
        """Prompt tokens of ``labels``: a marker and the label's own tokens each."""
        return sum(1 + len(self.label_ids(label)) for label in labels)

    def prompt_length(self, entity_labels: list[str], relation_labels: list[str]) -> int:
        """Tokens the labels take, including [CLS] and the two [SEP]."""
        return 3 + self.label_tokens(entity_labels) + self.label_tokens(relation_labels)

    def max_text_tokens(self, entity_labels: list[str], relation_labels: list[str]) -> int:
        return self.max_length - self.prompt_length(entity_labels, relation_labels)

    def relation_label_block(
        self,
        entity_labels: list[str],
        groups: list[list[str]],
        prompt_relations: Sequence[str] = (),
    ) -> RelationLabelBlock:
        """The relation labels ``groups`` as a :class:`RelationLabelBlock` for texts
        encoded with ``entity_labels`` and ``prompt_relations`` (the ``hybrid`` layout's
        first group of relation labels) in their prompt.
        Every group starts where relation labels start in the prompt."""
        start = 1 + self.label_tokens(entity_labels)
        prompt_end = start + self.label_tokens(prompt_relations)
        ids: list[int] = []
        markers: list[int] = []
        positions: list[int] = []
        group_ids: list[int] = []
        marker_positions: list[int] = []
        for g, group in enumerate(groups):
            position = start
            for label in group:
                marker_positions.append(len(ids))
                tokens = [self.relation_marker_id, *self.label_ids(label)]
                ids.extend(tokens)
                markers.extend([MARKER_RELATION] + [MARKER_NONE] * (len(tokens) - 1))
                positions.extend(range(position, position + len(tokens)))
                position += len(tokens)
                group_ids.extend([2 + g] * len(tokens))
        return RelationLabelBlock(ids, markers, positions, group_ids, marker_positions, prompt_end)

    def _tokenize_one(self, text: str) -> TextTokens:
        if self._fast is not None:
            enc = self._fast.encode(text, add_special_tokens=False)
            ids, offsets = enc.ids, enc.offsets
        else:
            out = self.tokenizer(
                text, add_special_tokens=False, return_offsets_mapping=True, verbose=False
            )
            ids, offsets = out["input_ids"], out["offset_mapping"]
        return TextTokens(
            np.asarray(ids, dtype=np.int64),
            np.asarray(offsets, dtype=np.int64).reshape(-1, 2),
        )

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the text's tokens (no special tokens).

        Whole documents are tokenized here (for chunking), so the tokenizer's warning
        about sequences longer than the model's window does not apply. The tokens of a
        text that fits the window are kept for a later :meth:`tokenize` of the same text.
        """
        tokens = self._tokenize_one(text)
        if len(tokens) <= self.max_length:
            with self._recent_lock:
                self._recent[text] = tokens
                self._recent.move_to_end(text)
                while len(self._recent) > self.RECENT_TEXTS:
                    self._recent.popitem(last=False)
        return list(map(tuple, tokens.offsets.tolist()))

    def tokenize(self, texts: Sequence[str]) -> list[TextTokens]:
        """Tokens of each text (no special tokens): reused from :meth:`token_spans` where it
        just saw the text, the rest in one batch call of the fast tokenizer."""
        out: list[TextTokens | None] = [None] * len(texts)
        missing: list[int] = []
        with self._recent_lock:
            for i, text in enumerate(texts):
                hit = self._recent.pop(text, None)
                if hit is None:
                    missing.append(i)
                out[i] = hit
        if missing and self._fast is not None:
            batch = self._fast.encode_batch([texts[i] for i in missing], add_special_tokens=False)
            for i, enc in zip(missing, batch, strict=True):
                out[i] = TextTokens(
                    np.asarray(enc.ids, dtype=np.int64),
                    np.asarray(enc.offsets, dtype=np.int64).reshape(-1, 2),
                )
        else:
            for i in missing:
                out[i] = self._tokenize_one(texts[i])
        return out  # type: ignore[return-value]

    def encode(
        self,
        text: str,
        word_spans: list[tuple[int, int]],
        entity_labels: list[str],
        relation_labels: list[str],
        tokens: TextTokens | None = None,
    ) -> EncodedText:
        """Model inputs for ``text`` (whose words are ``word_spans``) after the label prompt.

        ``tokens``: the text's tokens if already known (:meth:`tokenize`), else tokenized here.
        """
        ids = [self.cls_id]
        markers = [MARKER_NONE]
        ent_pos, rel_pos = [], []
        for labels, marker_id, marker_type, positions in (
            (entity_labels, self.entity_marker_id, MARKER_ENTITY, ent_pos),
            (relation_labels, self.relation_marker_id, MARKER_RELATION, rel_pos),
        ):
            for label in labels:
                positions.append(len(ids))
                ids.append(marker_id)
                markers.append(marker_type)
                lab = self.label_ids(label)
                ids.extend(lab)
                markers.extend([MARKER_NONE] * len(lab))
        ids.append(self.sep_id)
        markers.append(MARKER_NONE)
        shapes = [SHAPE_PAD] * len(ids)
        offset = len(ids)
        budget = self.max_length - offset - 1

        if tokens is None:
            tokens = self._tokenize_one(text)
        tok_ids = tokens.ids[:budget].tolist()
        offsets = tokens.offsets[: len(tok_ids)]
        tok_offsets = offsets.tolist()

        n_words = len(word_spans)
        first = np.full(n_words, -1, dtype=np.int64)
        last = np.full(n_words, -1, dtype=np.int64)
        if n_words and tok_ids:
            word_tokens(word_spans, offsets, offset, first, last)
        ids.extend(tok_ids)
        markers.extend([MARKER_NONE] * len(tok_ids))
        if casing_is_informative(text):
            shapes.extend(token_shape(text[s:e]) for s, e in tok_offsets)
        else:
            shapes.extend([SHAPE_PAD] * len(tok_ids))
        ids.append(self.sep_id)
        markers.append(MARKER_NONE)
        shapes.append(SHAPE_PAD)

        # words whose tokens were cut off by the window are not spans
        num_words = n_words
        if len(tokens) > len(tok_ids):
            cut = tok_offsets[-1][1] if tok_offsets else 0
            num_words = int(np.searchsorted([e for _, e in word_spans], cut, side="right"))
            first[num_words:] = -1
            last[num_words:] = -1
        return EncodedText(
            input_ids=ids,
            marker_types=markers,
            shape_ids=shapes,
            entity_marker_positions=ent_pos,
            relation_marker_positions=rel_pos,
            word_first_token=first,
            word_last_token=last,
            word_spans=list(word_spans),
            num_words=num_words,
        )


def word_tokens(
    word_spans: Sequence[tuple[int, int]],
    offsets: np.ndarray,
    offset: int,
    first: np.ndarray,
    last: np.ndarray,
) -> None:
    """Fill ``first`` / ``last``: per word, the position (``offset`` + token index) of
    the first and last token sharing at least one character with it.

    Tokens map to words by character overlap, not by where they start: a SentencePiece
    token's span includes the space before its word (``▁world`` covers " world"), and a
    bare "▁" token covers the space alone and belongs to no word. A token spanning
    several words (``Corp.`` read as one piece, two words) belongs to each. WordPiece
    tokens lie inside their word, so for them this is the word containing the token's
    start. A zero-width token counts as covering the character where it stands.
    """
    n_words = len(word_spans)
    starts = np.fromiter((s for s, _ in word_spans), dtype=np.int64, count=n_words)
    ends = np.fromiter((e for _, e in word_spans), dtype=np.int64, count=n_words)
    tok_start = offsets[:, 0]
    tok_end = np.maximum(offsets[:, 1], tok_start + 1)
    # the words a token overlaps: from the first word ending after the token starts up
    # to (not including) the first word starting at or after the token's end
    lo = np.searchsorted(ends, tok_start, side="right")
    hi = np.searchsorted(starts, tok_end, side="left")
    positions = np.arange(len(offsets)) + offset
    one = hi - lo == 1
    # first token of a word: minimum position; last token: maximum position
    rev = slice(None, None, -1)
    first[lo[one][rev]] = positions[one][rev]
    last[lo[one]] = positions[one]
    for t in np.flatnonzero(hi - lo > 1):
        for w in range(lo[t], hi[t]):
            first[w] = positions[t] if first[w] < 0 else min(first[w], positions[t])
            last[w] = max(last[w], positions[t])


def casing_is_informative(text: str) -> bool:
    """Whether the letters of ``text`` are written in both cases, so that a word's shape
    says something about it (a capital for a name).

    Text written all in lower case (search queries, chat, lower-cased corpora such as
    MultiCoNER) or all in capitals gives every word the same shape; an encoder that
    learned "names are capitalised" would find no names in it. Such text is read with
    the word-shape feature off (:func:`hide_word_shapes`), as training reads lower-cased
    datasets. Ordinary prose always has a capital (its first word), so this never fires
    on it.
    """
    has_upper = has_lower = False
    for c in text:
        if c.isupper():
            has_upper = True
        elif c.islower():
            has_lower = True
        if has_upper and has_lower:
            return True
    return not (has_upper or has_lower)


def hide_word_shapes(encoded: EncodedText) -> EncodedText:
    """Switch the word-shape feature off for one encoded text (in place; returned).

    Every shape id becomes ``SHAPE_PAD``, whose embedding is zero and never trained, so a
    lower-cased dataset (MultiCoNER, SemEval) teaches nothing about casing, in particular
    not that names are written in lower case. Training calls this for examples marked
    ``uncased_text``.
    """
    encoded.shape_ids = [SHAPE_PAD] * len(encoded.shape_ids)
    return encoded
