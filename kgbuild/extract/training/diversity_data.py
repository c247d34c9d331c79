"""Readers of the datasets added for label diversity, round 2 (issue 28).

Each reader turns one of the folders of ``../shared/datasets`` listed under "Added for
label diversity, round 2" into :class:`~kgbuild.extract.training.data.Example`:

- :func:`read_multiconer`: MultiCoNER II English, 28 fine-grained entity types (plus the
  five coarse ones they belong to); its text is lower-cased, so the examples are marked
  ``uncased_text`` and training hides their word shapes (:func:`hide_word_shapes`).
- :func:`read_fewrel_relations`: FewRel-format relation classification with Wikidata
  property names (FewRel's NYT set; also ``fewrel/val_wiki.json``).
- :func:`read_semeval`: SemEval-2010 task 8 in FewRel format, its directed labels
  (``Cause-Effect(e2,e1)``) as plain directed names with head and tail in the right roles
  ("cause of": head = the cause), and each with its inverse phrasing ("caused by").
- :func:`read_rebel`: the REBEL sample (Wikipedia abstracts, Wikidata triples, character
  offsets), with property labels from ``wikidata-properties``.
- :func:`read_pile_ner`: the Pile-NER sample of SLIMER (passage, type) pairs; entity types
  have written definitions (:func:`pile_ner_definitions`).

Besides the readers: :func:`label_descriptions` (label name -> description, for other
phrasings of a label), the direction helpers :func:`inverse_relation`,
:func:`inverse_of` and :func:`add_inverse_relations`, :func:`dataset_label_names` (every
label name of a dataset, for the distractor pools) and :func:`looks_biomedical`, which
keeps biomedical and clinical passages out of training (the held-out measurement is in a
domain no training set may cover).
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from kgbuild.extract.training.data import (
    AlignmentStats,
    Example,
    _char_to_word_span,
    _words_of,
    wikidata_relation_names,
)
from kgbuild.extract.training.label_names import add_inverse_relations

logger = logging.getLogger(__name__)

__all__ = [
    "BIOMEDICAL_ENTITY_TYPES",
    "BIOMEDICAL_PROPERTIES",
    "MULTICONER_PARENT",
    "MULTICONER_PHRASES",
    "ROUND2_FORMATS",
    "SEMEVAL_RELATIONS",
    "LabelDescriptions",
    "add_inverse_relations",
    "label_descriptions",
    "looks_biomedical",
    "pile_ner_definitions",
    "read_fewrel_relations",
    "read_multiconer",
    "read_pile_ner",
    "read_rebel",
    "read_round2",
    "read_semeval",
    "semeval_descriptions",
    "semeval_relation",
    "wikidata_property_labels",
]


# --------------------------------------------------------------------------- biomedical filter

#: Words of biomedical and clinical writing. A passage in which at least
#: ``BIOMEDICAL_MIN_DISTINCT`` of them occur, at ``BIOMEDICAL_MIN_PER_100_WORDS`` or more
#: hits per 100 words, is treated as biomedical (Pile-NER samples PubMed abstracts; REBEL
#: has articles on genes and diseases). Tuned by reading the Pile-NER passages near the
#: threshold: it errs on the side of dropping (a news item set in a hospital goes too).
_BIOMEDICAL_WORDS = re.compile(
    r"\b(patients?|clinical(?:ly)?|diseases?|disorders?|proteins?|genes?|genetic|genomic|"
    r"mice|murine|rats?|tumou?rs?|cancers?|carcinoma\w*|therap(?:y|ies|eutic)|doses?|dosage|"
    r"infections?|infected|receptors?|mutations?|mutants?|cytokines?|serum|plasma|diagnos\w*|"
    r"syndromes?|surgery|surgical|hospitals?|hospitali[sz]\w+|antibod\w+|antigens?|in vitro|"
    r"in vivo|enzymes?|enzymatic|pathogen\w*|virus(?:es)?|viral|bacteri(?:a|al|um)|symptoms?|"
    r"lesions?|tissues?|physicians?|medical|medications?|pharmaco\w*|placebo|mortality|"
    r"morbidity|prevalence|renal|hepatic|cardiac|cardiovascular|neurons?|neuronal|immune|"
    r"immunolog\w*|DNA|RNA|mRNA|kinase|vaccines?|epidemiolog\w*|cohort|randomi[sz]ed|"
    r"metabolism|metabolic|nursing|nurses?|clinic|biopsy|biopsies|inflammat\w+|chemotherapy|"
    r"mg/kg|assay|peptides?|plasmid|strains?|lymphocytes?|insulin|glucose|hormones?|"
    r"anesthe\w+|anaesthe\w+|toxicity|ototoxic\w*|psychotherapy|depression|HIV|malaria|"
    r"blindness|healthcare|organism|physiolog\w*|gastric|intestinal|pulmonary|myocardi\w*|"
    r"trachea\w*|ventilation|cortex|cortical|hippocamp\w*|molecul\w*|cells?)\b",
    re.IGNORECASE,
)
BIOMEDICAL_MIN_DISTINCT = 2
BIOMEDICAL_MIN_PER_100_WORDS = 1.0

#: Pile-NER entity types of biology and medicine (the copy here already lacks the medical
#: ones such as disease and drug); their pairs and definitions are left out.
BIOMEDICAL_ENTITY_TYPES = frozenset(
    "amino acid|biomarker|body fluid|brain region|cytokine|genetic variation|metabolite|"
    "mutation|strain".split("|")
)

#: Wikidata properties of biology and medicine: REBEL abstracts carrying any are left out.
BIOMEDICAL_PROPERTIES = frozenset(
    "P688 P702 P680 P681 P682 P2293 P780 P923 P924 P2176 P1050 P636 P1995 P2175 P769 "
    "P4044 P1060 P128 P129 P927".split()
)  # encodes, encoded by, molecular function, cell component, biological process, genetic
# association, symptoms, medical examinations, possible treatment, drug used for treatment,
# medical condition, route of administration, health specialty, medical condition treated,
# significant drug interaction, therapeutic area, disease transmission process, regulates
# (molecular biology), physically interacts with, anatomical location


def looks_biomedical(text: str) -> bool:
    """True when ``text`` reads as biomedical or clinical writing (see ``_BIOMEDICAL_WORDS``)."""
    hits = _BIOMEDICAL_WORDS.findall(text)
    if len({h.lower() for h in hits}) < BIOMEDICAL_MIN_DISTINCT:
        return False
    return len(hits) * 100 / max(1, len(text.split())) >= BIOMEDICAL_MIN_PER_100_WORDS


# --------------------------------------------------------------------------- MultiCoNER II

#: MultiCoNER II's fine types as phrases. The four "other" types read as their coarse type.
MULTICONER_PHRASES = {
    "Artist": "artist", "Athlete": "athlete", "Politician": "politician",
    "Scientist": "scientist", "Cleric": "cleric", "SportsManager": "sports manager",
    "OtherPER": "person",
    "Facility": "facility", "HumanSettlement": "human settlement", "Station": "station",
    "OtherLOC": "location",
    "MusicalGRP": "musical group", "PublicCorp": "public company",
    "PrivateCorp": "private company", "AerospaceManufacturer": "aerospace manufacturer",
    "CarManufacturer": "car manufacturer", "SportsGRP": "sports team", "ORG": "organization",
    "VisualWork": "visual work", "MusicalWork": "musical work", "WrittenWork": "written work",
    "ArtWork": "artwork", "Software": "software",
    "Clothing": "clothing", "Vehicle": "vehicle", "Food": "food", "Drink": "drink",
    "OtherPROD": "product",
}  # fmt: skip

#: The coarse type of each fine type (MultiCoNER's PER, LOC, GRP, CW, PROD). Every
#: mention of a fine type is also one of its coarse type, so that an artist is not taught
#: as a negative for "person".
MULTICONER_PARENT = {
    **dict.fromkeys(
        ["Artist", "Athlete", "Politician", "Scientist", "Cleric", "SportsManager", "OtherPER"],
        "person",
    ),
    **dict.fromkeys(["Facility", "HumanSettlement", "Station", "OtherLOC"], "location"),
    **dict.fromkeys(
        [
            "MusicalGRP",
            "PublicCorp",
            "PrivateCorp",
            "AerospaceManufacturer",
            "CarManufacturer",
            "SportsGRP",
            "ORG",
        ],
        "organization",
    ),  # fmt: skip
    **dict.fromkeys(
        ["VisualWork", "MusicalWork", "WrittenWork", "ArtWork", "Software"], "creative work"
    ),
    **dict.fromkeys(["Clothing", "Vehicle", "Food", "Drink", "OtherPROD"], "product"),
}


def _bio_spans(tags: list[str]) -> list[tuple[int, int, str]]:
    """(start, end exclusive, type) of BIO tags; an I- tag of a new type starts a span."""
    spans: list[tuple[int, int, str]] = []
    start, cur = 0, None
    for i, tag in enumerate([*tags, "O"]):
        prefix, typ = (tag[0], tag[2:]) if tag[:2] in ("B-", "I-") else ("O", None)
        if cur is not None and (typ is None or prefix == "B" or typ != cur):
            spans.append((start, i, cur))
            cur = None
        if typ is not None and cur is None:
            start, cur = i, typ
    return spans


def read_multiconer(
    path: str | Path, *, parent_types: bool = True, source: str | None = None
) -> list[Example]:
    """Read a MultiCoNER II CoNLL file (``token _ _ TAG`` lines, ``# id`` headers).

    Each sentence is one NER example over all the dataset's type phrases. With
    ``parent_types`` a mention of a fine type (artist) is also a mention of its coarse
    type (person), in the same cluster. The text is lower-cased, so every example is
    marked ``uncased_text``. A tag the tables do not know raises ``ValueError``.
    """
    path = Path(path)
    sentences: list[tuple[list[str], list[str]]] = []
    words: list[str] = []
    tags: list[str] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("# id ") or not line.strip():
            if words:
                sentences.append((words, tags))
            words, tags = [], []
            continue
        parts = line.split()
        if len(parts) < 2:
            raise ValueError(f"{path}:{n}: expected 'token _ _ TAG', got {line!r}")
        words.append(parts[0])
        tags.append(parts[-1])
    if words:
        sentences.append((words, tags))
    labels = list(dict.fromkeys(MULTICONER_PHRASES.values()))
    if parent_types:
        labels = list(dict.fromkeys([*labels, *MULTICONER_PARENT.values()]))
    out = []
    for words, tags in sentences:
        entities: list[tuple[int, int, str]] = []
        clusters: list[list[int]] = []
        for s, e, code in _bio_spans(tags):
            if code not in MULTICONER_PHRASES:
                raise ValueError(f"{path}: unknown MultiCoNER type {code!r}")
            phrases = [MULTICONER_PHRASES[code]]
            if parent_types and MULTICONER_PARENT[code] not in phrases:
                phrases.append(MULTICONER_PARENT[code])
            clusters.append([])
            for phrase in phrases:
                clusters[-1].append(len(entities))
                entities.append((s, e, phrase))
        out.append(
            Example(
                words=words,
                entities=entities,
                relations=[],
                entity_labels=labels,
                relation_labels=[],
                clusters=clusters,
                source=source or f"multiconer-{path.stem}",
                uncased_text=True,
            )
        )
    return out


# --------------------------------------------------------------------------- FewRel formats


def _fewrel_mention(indices: list[int]) -> tuple[int, int] | None:
    """Word span of one FewRel mention (a list of word indices), None if not contiguous."""
    if not indices:
        return None
    s, e = min(indices), max(indices) + 1
    return (s, e) if e - s == len(set(indices)) else None


def _fewrel_example(
    item: dict, name: str, labels: list[str], source: str, stats: AlignmentStats
) -> Example | None:
    """One FewRel instance: two clusters (h = 0, t = 1), the relation between them."""
    entities: list[tuple[int, int, str]] = []
    clusters: list[list[int]] = []
    for arg in (item["h"], item["t"]):
        clusters.append([])
        for indices in arg[2]:
            stats.mentions += 1
            span = _fewrel_mention(indices)
            if span is None or span[1] > len(item["tokens"]):
                stats.dropped_mentions += 1
                continue
            clusters[-1].append(len(entities))
            entities.append((*span, "entity"))
    stats.triples += 1
    if not clusters[0] or not clusters[1]:
        stats.dropped_triples += 1
        return None
    return Example(
        words=list(item["tokens"]),
        entities=entities,
        relations=[(0, 1, name)],
        # FewRel types no entities: no entity loss, only the relation between the pair
        entity_labels=[],
        relation_labels=labels,
        clusters=clusters,
        source=source,
    )


def wikidata_property_labels(path: str | Path) -> dict[str, str]:
    """Wikidata property id (``P123``) -> its label, lower-cased (``publisher``), from
    ``all_wikidata_properties.json`` or a FewRel ``pid2name.json``."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if isinstance(data, dict):  # pid2name: id -> [name, description]
        return {pid: " ".join(v[0].lower().split()) for pid, v in data.items()}
    out: dict[str, str] = {}
    for row in data:
        pid = str(row.get("property", "")).rsplit("/", 1)[-1]
        label = " ".join(str(row.get("propertyLabel", "")).lower().split())
        if pid and label:
            out[pid] = label
    return out


def read_fewrel_relations(
    path: str | Path,
    pid2name: str | Path,
    *,
    source: str | None = None,
    stats: AlignmentStats | None = None,
) -> list[Example]:
    """Read FewRel JSON (relation id -> instances) whose ids are Wikidata properties:
    one example per instance, its head (``h``) and tail (``t``) in Wikidata's subject and
    object roles, labelled with the property's name. Every example is asked for all the
    file's names (relation classification: the other names are negatives for the pair).
    """
    path = Path(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    names = wikidata_property_labels(pid2name)
    missing = sorted(k for k in data if k not in names)
    if missing:
        raise ValueError(f"{path}: relation ids without a name in {pid2name}: {missing}")
    stats = stats if stats is not None else AlignmentStats()
    labels = sorted({names[k] for k in data})
    out = []
    for pid, items in data.items():
        for item in items:
            ex = _fewrel_example(item, names[pid], labels, source or path.stem, stats)
            if ex is not None:
                out.append(ex)
    return out


#: SemEval-2010 task 8 classes: the role of e1 in ``Class(e1,e2)`` comes first in the
#: class name. Each class has a directed name whose head has the first role ("cause of":
#: head = cause), its inverse (head = the second role) and descriptions of both.
SEMEVAL_RELATIONS: dict[str, tuple[str, str, str, str]] = {
    "Cause-Effect": (
        "cause of", "caused by",
        "the head is an event or object that causes the tail",
        "the head is an event or effect that the tail causes",
    ),
    "Component-Whole": (
        "component of", "has component",
        "the head is a component or functional part of the tail",
        "the head is a whole that has the tail as one of its components",
    ),
    "Instrument-Agency": (
        "used by", "uses",
        "the head is an instrument or tool that the tail uses",
        "the head is an agent that uses the tail as an instrument",
    ),
    "Member-Collection": (
        "member of", "has member",
        "the head is a member of the collection or group that the tail names",
        "the head is a collection or group that has the tail as a member",
    ),
    "Entity-Destination": (
        "moved to", "destination of",
        "the head is an entity moving towards the tail, its destination",
        "the head is the destination towards which the tail moves",
    ),
    "Content-Container": (
        "contained in", "contains",
        "the head is physically stored in the tail, a container",
        "the head is a container that physically holds the tail",
    ),
    "Message-Topic": (
        "about", "topic of",
        "the head is a message or act of communication about the tail, its topic",
        "the head is the topic of the tail, a message or act of communication",
    ),
    "Product-Producer": (
        "produced by", "producer of",
        "the head is a product made or produced by the tail",
        "the head produces or made the tail, a product",
    ),
    "Entity-Origin": (
        "originates from", "origin of",
        "the head is an entity that comes from or is derived from the tail, its origin",
        "the head is the origin or source of the tail",
    ),
}  # fmt: skip

_SEMEVAL_LABEL = re.compile(r"^([A-Za-z]+-[A-Za-z]+)\((e[12]),(e[12])\)$")


def semeval_relation(label: str) -> tuple[str, bool]:
    """A SemEval directed label as (directed name, swapped): ``Cause-Effect(e1,e2)`` ->
    ("cause of", False): the head (e1) is the cause; ``Cause-Effect(e2,e1)`` -> ("cause
    of", True): e2 is the cause, so the head is FewRel's ``t``."""
    m = _SEMEVAL_LABEL.match(label)
    if m is None or m.group(1) not in SEMEVAL_RELATIONS or m.group(2) == m.group(3):
        raise ValueError(f"not a SemEval-2010 task 8 directed label: {label!r}")
    return SEMEVAL_RELATIONS[m.group(1)][0], m.group(2) == "e2"


def read_semeval(
    path: str | Path,
    *,
    inverses: bool = True,
    source: str | None = None,
    stats: AlignmentStats | None = None,
) -> list[Example]:
    """Read FewRel's SemEval-2010 task 8 set: ``h`` is e1, ``t`` is e2, and each label
    names the class and which of e1 and e2 has its first role.

    Each instance is a relation with the first role as head (a ``(e2,e1)`` label swaps
    the pair), named as in :data:`SEMEVAL_RELATIONS`; with ``inverses`` also the inverse
    relation (the other role as head, "caused by"), so every example shows both reading
    directions of its pair. The text is lower-cased: examples are ``uncased_text``.
    """
    path = Path(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    stats = stats if stats is not None else AlignmentStats()
    directed = {label: semeval_relation(label) for label in data}
    # the file's classes, each by its directed name (and its inverse)
    classes = [v for v in SEMEVAL_RELATIONS.values() if v[0] in {n for n, _ in directed.values()}]
    labels = sorted({c[0] for c in classes} | ({c[1] for c in classes} if inverses else set()))
    out = []
    for label, items in data.items():
        name, swapped = directed[label]
        for item in items:
            ex = _fewrel_example(item, name, labels, source or "semeval", stats)
            if ex is None:
                continue
            ex.uncased_text = True
            if swapped:
                ex.relations = [(1, 0, name)]
            if inverses:
                add_inverse_relations([ex])
                ex.relation_labels = labels
            out.append(ex)
    return out


def semeval_descriptions() -> dict[str, str]:
    """Description of each SemEval directed name and its inverse."""
    out = {}
    for forward, inverse, d_forward, d_inverse in SEMEVAL_RELATIONS.values():
        out[forward], out[inverse] = d_forward, d_inverse
    return out


# --------------------------------------------------------------------------- REBEL


def _place(text: str, surface: str, begin: int, end: int) -> tuple[int, int] | None:
    """Character span of ``surface`` given REBEL's boundaries [begin, end).

    About one mention in seven has boundaries shifted against the stored text (the
    abstract was cleaned after the offsets were taken): then the occurrence of the
    surface form nearest to ``begin`` is used. None when the form does not occur.
    """
    if text[begin:end] == surface:
        return begin, end
    starts = [m.start() for m in re.finditer(re.escape(surface), text)] if surface else []
    if not starts:
        return None
    best = min(starts, key=lambda s: abs(s - begin))
    return best, best + len(surface)


def read_rebel(
    path: str | Path,
    properties: str | Path,
    *,
    drop_biomedical: bool = True,
    stats: AlignmentStats | None = None,
) -> list[Example]:
    """Read REBEL JSON lines: one example per abstract, its linked entities (mentions of
    one Wikidata item form a cluster; dates and quantities included) and its triples,
    named by the property's Wikidata label from ``properties``
    (``all_wikidata_properties.json``), subject as head.

    Mentions are placed by their character boundaries (repaired, see :func:`_place`) and
    kept when they fall on word boundaries. Entities are untyped (no entity loss);
    each example is asked for the names of its own triples. With ``drop_biomedical``,
    abstracts with a biomedical property (:data:`BIOMEDICAL_PROPERTIES`) or biomedical
    text (:func:`looks_biomedical`) are left out and counted in ``stats.dropped_texts``.
    """
    path = Path(path)
    names = wikidata_property_labels(properties)
    stats = stats if stats is not None else AlignmentStats()
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}:{n}: not a JSON line ({err})") from err
        pids = {t["predicate"]["uri"] for t in doc["triples"]}
        if drop_biomedical and (pids & BIOMEDICAL_PROPERTIES or looks_biomedical(doc["text"])):
            stats.dropped_texts += 1
            continue
        unknown = sorted(p for p in pids if p not in names)
        if unknown:
            raise ValueError(f"{path}:{n}: properties without a label in {properties}: {unknown}")
        ex = _rebel_example(doc, names, stats)
        if ex is not None:
            out.append(ex)
    return out


def _rebel_example(doc: dict, names: dict[str, str], stats: AlignmentStats) -> Example | None:
    text = doc["text"]
    words, spans = _words_of(text)
    entities: list[tuple[int, int, str]] = []
    clusters: list[list[int]] = []
    cluster_of: dict[str, int] = {}
    placed: dict[tuple[str, int, int], int] = {}  # (uri, begin, end) -> cluster
    taken: set[tuple[int, int]] = set()
    mentions = list(doc["entities"])
    for t in doc["triples"]:  # a triple's arguments are entities too
        mentions += [t["subject"], t["object"]]
    for m in mentions:
        key = (m["uri"], *m["boundaries"])
        if key in placed:
            continue
        stats.mentions += 1
        chars = _place(text, m["surfaceform"], *m["boundaries"])
        ws = _char_to_word_span(spans, *chars) if chars else None
        if ws is None:
            stats.dropped_mentions += 1
            placed[key] = -1
            continue
        c = cluster_of.setdefault(m["uri"], len(clusters))
        if c == len(clusters):
            clusters.append([])
        placed[key] = c
        if ws not in taken:  # two boundaries repaired onto one occurrence: one mention
            taken.add(ws)
            clusters[c].append(len(entities))
            entities.append((*ws, "entity"))
    relations = set()
    for t in doc["triples"]:
        stats.triples += 1
        h = placed.get((t["subject"]["uri"], *t["subject"]["boundaries"]), -1)
        o = placed.get((t["object"]["uri"], *t["object"]["boundaries"]), -1)
        if h < 0 or o < 0 or h == o or not clusters[h] or not clusters[o]:
            stats.dropped_triples += 1
            continue
        relations.add((h, o, names[t["predicate"]["uri"]]))
    if not relations:
        return None
    # clusters whose every mention collapsed onto another's span stay empty: drop them
    keep = [i for i, c in enumerate(clusters) if c]
    renum = {old: new for new, old in enumerate(keep)}
    return Example(
        words=words,
        entities=entities,
        relations=sorted((renum[h], renum[o], r) for h, o, r in relations),
        entity_labels=[],
        relation_labels=sorted({r for *_, r in relations}),
        clusters=[clusters[i] for i in keep],
        source="rebel",
    )


# --------------------------------------------------------------------------- Pile-NER


_DEFINITION = re.compile(r'"Definition"\s*:\s*("(?:[^"\\]|\\.)*")')


def pile_ner_definitions(path: str | Path, *, drop_biomedical: bool = True) -> dict[str, str]:
    """Pile-NER entity type -> its written definition (SLIMER's ``ne_definitions.json``,
    whose ``gpt_answer`` holds a JSON object with ``Definition`` and ``Guidelines``; in
    about a fifth of the entries it is cut off after the definition, which is still read).
    """
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    out = {}
    for name, entry in data.items():
        label = " ".join(name.lower().split())
        if drop_biomedical and label in BIOMEDICAL_ENTITY_TYPES:
            continue
        m = _DEFINITION.search(str(entry.get("gpt_answer", "")))
        if m is None:
            logger.warning("%s: no readable definition for %r", path, name)
            continue
        definition = " ".join(str(json.loads(m.group(1))).split())
        if definition:
            out[label] = definition
    return out


def _find_mentions(text: str, spans: list[tuple[int, int]], surface: str) -> list[tuple[int, int]]:
    """Word spans of every occurrence of ``surface`` on word boundaries (exact case, or
    ignoring case when the exact form does not occur)."""
    for flags in (0, re.IGNORECASE):
        found = []
        for m in re.finditer(re.escape(surface), text, flags):
            ws = _char_to_word_span(spans, m.start(), m.end())
            if ws is not None:
                found.append(ws)
        if found:
            return found
    return []


def read_pile_ner(
    path: str | Path, *, drop_biomedical: bool = True, stats: AlignmentStats | None = None
) -> list[Example]:
    """Read SLIMER's Pile-NER (passage, type) pairs into one NER example per passage.

    The example is asked for exactly the types its pairs ask about (a pair with an empty
    output is a negative type), every occurrence of each listed string that falls on word
    boundaries is a mention (longer strings first; an occurrence overlapping one already
    placed for the same type is skipped); strings that do not occur are dropped and
    counted. With ``drop_biomedical``, pairs of :data:`BIOMEDICAL_ENTITY_TYPES` and
    passages that :func:`looks_biomedical` are left out (``stats.dropped_texts`` counts
    passages).
    """
    path = Path(path)
    stats = stats if stats is not None else AlignmentStats()
    passages: dict[str, dict[str, list[str]]] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            strings = json.loads(row["output"])
        except (json.JSONDecodeError, KeyError) as err:
            raise ValueError(f"{path}:{n}: unreadable pair ({err})") from err
        label = " ".join(row["tagName"].lower().split())
        passages.setdefault(row["input"], {})[label] = [str(s) for s in strings]
    out = []
    for text, types in passages.items():
        if drop_biomedical and (looks_biomedical(text) or set(types) & BIOMEDICAL_ENTITY_TYPES):
            stats.dropped_texts += 1
            continue
        words, spans = _words_of(text)
        entities: list[tuple[int, int, str]] = []
        for label, strings in types.items():
            used: list[tuple[int, int]] = []
            for surface in sorted(set(strings), key=len, reverse=True):
                stats.mentions += 1
                found = [
                    ws
                    for ws in _find_mentions(text, spans, surface)
                    if not any(ws[0] < e and s < ws[1] for s, e in used)
                ]
                if not found:
                    stats.dropped_mentions += 1
                used += found
            entities += sorted((s, e, label) for s, e in used)
        out.append(
            Example(
                words=words,
                entities=entities,
                relations=[],
                entity_labels=list(types),
                relation_labels=[],
                source="pile-ner",
            )
        )
    return out


# --------------------------------------------------------------------------- descriptions


class LabelDescriptions(BaseModel):
    """Label name -> description, for relations and entity types: other phrasings of a
    label that training can show in its place (``data.relation_variant`` reads either)."""

    model_config = ConfigDict(extra="forbid")

    relations: dict[str, str]
    entities: dict[str, str]


def label_descriptions(root: str | Path) -> LabelDescriptions:
    """Descriptions from the datasets folder ``root``: Wikidata property descriptions
    (11k names; REBEL's names are Wikidata's labels, FewRel's those of its
    ``pid2name``), the SemEval directed names'
    (:data:`SEMEVAL_RELATIONS`) and the Pile-NER entity type definitions."""
    root = Path(root)
    relations = {
        k: v
        for k, v in wikidata_relation_names(
            root / "wikidata-properties" / "all_wikidata_properties.json"
        ).items()
        if v
    }
    # FewRel's names (NYT's "material used") where Wikidata's label has changed since
    fewrel = json.loads(
        (root / "wikidata-properties" / "pid2name_fewrel.json").read_text(encoding="utf-8")
    )
    for name, description in fewrel.values():
        relations.setdefault(" ".join(name.lower().split()), " ".join(description.split()))
    relations.update(semeval_descriptions())
    entities = pile_ner_definitions(root / "pile-ner-slimer" / "ne_definitions.json")
    return LabelDescriptions(relations=relations, entities=entities)


# --------------------------------------------------------------------------- config formats

#: Formats of a training config's data entries that this module reads.
ROUND2_FORMATS = ("multiconer", "fewrel", "semeval", "rebel", "pile-ner")


def read_round2(spec: dict, root: Path) -> list[Example]:
    """Read one config entry of a label-diversity format (``datasets.read_dataset`` delegates here).

    ``{"format": "multiconer", "path": "multiconer2-en/en-train90.conll"}``;
    ``{"format": "fewrel", "path": "fewrel-extra/val_nyt.json", "rel_info":
    "wikidata-properties/pid2name_fewrel.json"}``; ``{"format": "semeval", "path":
    "fewrel-extra/val_semeval.json"}``; ``{"format": "rebel", "path":
    "rebel-sample/sample.jsonl", "rel_info": "wikidata-properties/all_wikidata_properties.json"}``;
    ``{"format": "pile-ner", "path": "pile-ner-slimer/validation_truedef.jsonl"}``.
    ``"inverses": true`` adds each relation's inverse phrasing (always on for semeval).
    """
    fmt, path = spec["format"], root / spec["path"]
    if not path.exists():
        raise FileNotFoundError(f"{fmt} data not found: {path}")
    if fmt == "multiconer":
        examples = read_multiconer(path, source=spec.get("name"))
    elif fmt == "fewrel":
        pid2name = root / (spec.get("rel_info") or "wikidata-properties/pid2name_fewrel.json")
        examples = read_fewrel_relations(path, pid2name, source=spec.get("name"))
    elif fmt == "semeval":
        examples = read_semeval(path, source=spec.get("name"))
    elif fmt == "rebel":
        props = root / (spec.get("rel_info") or "wikidata-properties/all_wikidata_properties.json")
        examples = read_rebel(path, props)
    elif fmt == "pile-ner":
        examples = read_pile_ner(path)
    else:
        raise ValueError(f"unknown data format {fmt!r} in {spec}")
    if spec.get("inverses") and fmt != "semeval":
        add_inverse_relations(examples)
    return examples
