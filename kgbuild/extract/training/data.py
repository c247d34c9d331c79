"""Training and evaluation data for the joint extractor.

Every dataset is read into :class:`Example`: words, entity mentions as word
spans typed by a natural-language label phrase, entity clusters (mentions of
one entity; singletons for sentence-level data) and relations between
clusters. Label phrases are what the model reads, so each reader maps the
dataset's type codes to readable phrases (SpERT's ``verbose`` names, and the
tables below for CrossRE and Re-DocRED).
"""

from __future__ import annotations

import bisect
import json
import logging
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from kgbuild.schema import described_label

logger = logging.getLogger(__name__)


@dataclass
class Example:
    """One training or evaluation unit (a sentence, or a short document)."""

    words: list[str]
    #: (start word, end word exclusive, entity label phrase)
    entities: list[tuple[int, int, str]]
    #: (head cluster, tail cluster, relation label phrase)
    relations: list[tuple[int, int, str]]
    #: label phrases this example is annotated for (positives and negatives)
    entity_labels: list[str]
    relation_labels: list[str]
    symmetric: set[str] = field(default_factory=set)
    #: mention indices of each entity; None means one cluster per mention
    clusters: list[list[int]] | None = None
    source: str = ""
    #: silver entities (a teacher model's, lower loss weight) of ``silver_labels``: types
    #: this dataset does not annotate, so its gold says nothing about them
    silver: list[tuple[int, int, str]] = field(default_factory=list)
    silver_labels: list[str] = field(default_factory=list)
    #: the text is lower-cased (MultiCoNER, SemEval): its word shapes say nothing about
    #: names, so training hides them (``kgbuild.extract.model.encoding.hide_word_shapes``)
    uncased_text: bool = False

    def get_clusters(self) -> list[list[int]]:
        return (
            self.clusters if self.clusters is not None else [[i] for i in range(len(self.entities))]
        )


# --------------------------------------------------------------------------- SpERT


def read_spert(
    path: str | Path, types_path: str | Path, source: str | None = None
) -> list[Example]:
    """Read SpERT JSON (CoNLL04, SciERC, ADE) with label phrases from the types file."""
    path, types_path = Path(path), Path(types_path)
    data = json.loads(path.read_text(encoding="utf-8"))
    types = json.loads(types_path.read_text(encoding="utf-8"))
    ent_names = {k: v["verbose"].lower() for k, v in types["entities"].items()}
    rel_names = {k: v["verbose"].lower() for k, v in types.get("relations", {}).items()}
    symmetric = {rel_names[k] for k, v in types.get("relations", {}).items() if v.get("symmetric")}
    out = []
    for doc in data:
        ents = [(e["start"], e["end"], ent_names[e["type"]]) for e in doc["entities"]]
        rels = [(r["head"], r["tail"], rel_names[r["type"]]) for r in doc.get("relations", [])]
        out.append(
            Example(
                words=list(doc["tokens"]),
                entities=ents,
                relations=rels,
                entity_labels=list(ent_names.values()),
                relation_labels=list(rel_names.values()),
                symmetric=set(symmetric),
                source=source or path.stem,
            )
        )
    return out


def load_spert_types(types_path: str | Path) -> tuple[list[str], list[str], set[str]]:
    """Entity phrases, relation phrases and symmetric relations of a SpERT types file."""
    types = json.loads(Path(types_path).read_text(encoding="utf-8"))
    ents = [v["verbose"].lower() for v in types["entities"].values()]
    rels = [v["verbose"].lower() for v in types.get("relations", {}).values()]
    sym = {v["verbose"].lower() for v in types.get("relations", {}).values() if v.get("symmetric")}
    return ents, rels, sym


# --------------------------------------------------------------------------- CrossRE

CROSSRE_ENTITY_PHRASES = {
    "academicjournal": "academic journal",
    "astronomicalobject": "astronomical object",
    "chemicalcompound": "chemical compound",
    "chemicalelement": "chemical element",
    "literarygenre": "literary genre",
    "metrics": "metric",
    "misc": "miscellaneous",
    "musicalartist": "musical artist",
    "musicalinstrument": "musical instrument",
    "musicgenre": "music genre",
    "organisation": "organization",
    "politicalparty": "political party",
    "programlang": "programming language",
}
CROSSRE_RELATION_PHRASES = {
    "general-affiliation": "general affiliation",
    "win-defeat": "win or defeat",
    "cause-effect": "cause or effect",
    "related-to": "related to",
    "part-of": "part of",
    "type-of": "type of",
    "physical": "physical location",
}
CROSSRE_SYMMETRIC = {"compare", "opposite", "related to"}


def read_crossre(path: str | Path) -> list[Example]:
    """Read a CrossRE JSON-lines file (span ends inclusive; a pair may carry several relations)."""
    path = Path(path)
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    ent_labels = sorted({CROSSRE_ENTITY_PHRASES.get(t, t) for r in rows for *_, t in r["ner"]})
    rel_labels = sorted(
        {
            CROSSRE_RELATION_PHRASES.get(x[4], x[4].replace("-", " "))
            for r in rows
            for x in r["relations"]
        }
    )
    out = []
    for r in rows:
        index = {}
        ents = []
        for s, e, t in r["ner"]:
            index[(s, e + 1)] = len(ents)
            ents.append((s, e + 1, CROSSRE_ENTITY_PHRASES.get(t, t)))
        rels = []
        for x in r["relations"]:
            h, t = index.get((x[0], x[1] + 1)), index.get((x[2], x[3] + 1))
            if h is None or t is None:
                continue
            rels.append((h, t, CROSSRE_RELATION_PHRASES.get(x[4], x[4].replace("-", " "))))
        out.append(
            Example(
                words=list(r["sentence"]),
                entities=ents,
                relations=sorted(set(rels)),
                entity_labels=ent_labels,
                relation_labels=[x for x in rel_labels],
                symmetric=set(CROSSRE_SYMMETRIC),
                source=f"crossre-{path.stem}",
            )
        )
    return out


# --------------------------------------------------------------------------- Re-DocRED

DOCRED_ENTITY_PHRASES = {
    "PER": "person",
    "ORG": "organization",
    "LOC": "location",
    "TIME": "time",
    "NUM": "number",
    "MISC": "miscellaneous",
}


def read_docred(path: str | Path, rel_info: str | Path) -> list[Example]:
    """Read DocRED / Re-DocRED: documents with mention clusters and Wikidata relations."""
    names = json.loads(Path(rel_info).read_text(encoding="utf-8"))
    docs = json.loads(Path(path).read_text(encoding="utf-8"))
    rel_labels = sorted(set(names.values()))
    out = []
    for doc in docs:
        offsets, words = [], []
        for sent in doc["sents"]:
            offsets.append(len(words))
            words.extend(sent)
        ents, clusters = [], []
        for vertex in doc["vertexSet"]:
            cluster = []
            for m in vertex:
                start = offsets[m["sent_id"]] + m["pos"][0]
                end = offsets[m["sent_id"]] + m["pos"][1]
                cluster.append(len(ents))
                ents.append((start, end, DOCRED_ENTITY_PHRASES[m["type"]]))
            clusters.append(cluster)
        rels = sorted({(lab["h"], lab["t"], names[lab["r"]]) for lab in doc.get("labels", [])})
        out.append(
            Example(
                words=words,
                entities=ents,
                relations=rels,
                entity_labels=list(DOCRED_ENTITY_PHRASES.values()),
                relation_labels=rel_labels,
                clusters=clusters,
                source="re-docred",
            )
        )
    return out


def fewrel_relation_names(fewrel_dir: str | Path) -> list[str]:
    """Relation names of FewRel (used as extra negative relation labels)."""
    fewrel_dir = Path(fewrel_dir)
    pid2name = json.loads((fewrel_dir / "pid2name.json").read_text(encoding="utf-8"))
    data = json.loads((fewrel_dir / "val_wiki.json").read_text(encoding="utf-8"))
    return sorted({pid2name[k][0] for k in data if k in pid2name})


# --------------------------------------------------------------------------- label sampling

#: Distractor entity labels: added as negatives so the model learns to read labels.
ENTITY_DISTRACTORS = [
    "disease", "drug", "gene", "animal", "food", "vehicle", "sports team", "currency",
    "religion", "weapon", "symptom", "software", "law", "crime", "plant", "building",
    "language", "nationality", "job title", "medical procedure", "mountain", "river",
    "ship", "aircraft", "sports event", "film", "television show", "painting",
    "email address", "phone number", "percentage", "money", "quantity", "method", "task",
    "material", "metric", "generic", "other scientific term", "algorithm", "field",
]  # fmt: skip


def norm_label(label: str) -> str:
    return re.sub(r"[^a-z0-9]", "", label.lower())


# --------------------------------------------------------------------------- words of raw text


def _words_of(text: str) -> tuple[list[str], list[tuple[int, int]]]:
    """Words of raw text (the extractor's own word splitter) with their character spans."""
    from kgbuild.extract.model.encoding import split_words

    spans = split_words(text)
    return [text[s:e] for s, e in spans], spans


def _char_to_word_span(
    spans: list[tuple[int, int]], begin: int, end: int
) -> tuple[int, int] | None:
    """Word span exactly covering characters [begin, end), or None if it cuts a word."""
    starts = [s for s, _ in spans]
    ends = [e for _, e in spans]
    i = bisect.bisect_left(starts, begin)
    j = bisect.bisect_left(ends, end)
    if i < len(spans) and j < len(spans) and starts[i] == begin and ends[j] == end and i <= j:
        return i, j + 1
    return None


# --------------------------------------------------------------------------- plain triples


def read_plain_triples(path: str | Path, *, source: str | None = None) -> list[Example]:
    """Read sentences annotated the way a user states facts: JSON lines with ``text``,
    ``entity_types``, ``relation_types``, ``entities`` (``[text, type]`` pairs) and
    ``relations`` (``[head text, relation, tail text]``). Each entity is located at the
    first occurrence of its text that falls on word boundaries; every example is asked
    for its own types. ``benchmarks/data/everyday_relations*.jsonl`` are in this form.

    Raises:
        ValueError: naming the file and line of an entity that is not in its text, or
            of a relation between texts that are not among the line's entities.
    """
    path = Path(path)
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        words, spans = _words_of(row["text"])
        entities: list[tuple[int, int, str]] = []
        index: dict[str, int] = {}
        for name, label in row["entities"]:
            span = next(
                (
                    ws
                    for m in re.finditer(re.escape(name), row["text"])
                    if (ws := _char_to_word_span(spans, m.start(), m.end()))
                ),
                None,
            )
            if span is None:
                raise ValueError(f"{path}:{n}: entity {name!r} is not a run of words of the text")
            index[name] = len(entities)
            entities.append((*span, label))
        relations = []
        for head, label, tail in row["relations"]:
            if head not in index or tail not in index:
                raise ValueError(
                    f"{path}:{n}: relation {head!r} {label!r} {tail!r}: unknown entity"
                )
            relations.append((index[head], index[tail], label))
        out.append(
            Example(
                words=words,
                entities=entities,
                relations=relations,
                entity_labels=list(row["entity_types"]),
                relation_labels=list(row["relation_types"]),
                symmetric=set(row.get("symmetric", [])),
                source=source or path.stem,
            )
        )
    return out


# --------------------------------------------------------------------------- WebNLG


def split_predicate(name: str) -> str:
    """A DBpedia predicate as a phrase: 'birthPlace' -> 'birth place', 'ISBN_number' -> ..."""
    name = name.replace("_", " ")
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)
    name = re.sub(r"(?<=[A-Z])(?=[A-Z][a-z])", " ", name)
    return " ".join(name.lower().split())


#: Entity label of WebNLG's triple arguments: WebNLG types none of them, but every named
#: argument of a triple is an entity, so this generic label is the one it can vouch for.
WEBNLG_ENTITY_LABEL = "entity"


@dataclass
class AlignmentStats:
    """What a reader could not place in its text (dropped, and counted)."""

    mentions: int = 0
    dropped_mentions: int = 0
    triples: int = 0
    dropped_triples: int = 0
    dropped_texts: int = 0


def read_webnlg(
    path: str | Path,
    *,
    exclude_predicates: set[str] | None = None,
    only_predicates: set[str] | None = None,
    stats: AlignmentStats | None = None,
) -> list[Example]:
    """Read enriched WebNLG XML (a file or a folder of them) into examples.

    Each ``lex`` text is one example. Each reference string is located in the text
    (exact match, first occurrence not yet used by another reference); pronoun and
    demonstrative references and strings that do not occur are dropped and counted in
    ``stats``. Mentions of one DBpedia entity form a cluster; each triple becomes a
    relation between clusters labelled with its split predicate name.

    ``exclude_predicates`` (phrases): texts carrying any of them are skipped entirely,
    so no training example shows them. ``only_predicates``: keep only those triples
    (and only texts that carry one): the held-out evaluation.
    """
    import xml.etree.ElementTree as ET

    path = Path(path)
    files = sorted(path.rglob("*.xml")) if path.is_dir() else [path]
    stats = stats if stats is not None else AlignmentStats()
    out = []
    for file in files:
        for entry in ET.parse(file).getroot().iter("entry"):
            triples = [
                tuple(x.strip() for x in t.text.split("|"))
                for t in entry.iter("mtriple")
                if t.text and t.text.count("|") == 2
            ]
            triples = [(s, split_predicate(p), o) for s, p, o in triples]
            preds = {p for _, p, _ in triples}
            if exclude_predicates and preds & exclude_predicates:
                stats.dropped_texts += len(entry.findall("lex"))
                continue
            if only_predicates is not None:
                triples = [t for t in triples if t[1] in only_predicates]
                if not triples:
                    continue
            for lex in entry.iter("lex"):
                ex = _webnlg_lex(lex, triples, stats, source=f"webnlg-{file.stem}")
                if ex is not None:
                    out.append(ex)
    logger.info(
        "webnlg %s: %d texts; dropped %d of %d mentions and %d of %d triples (not aligned)",
        path, len(out), stats.dropped_mentions, stats.mentions, stats.dropped_triples,
        stats.triples,
    )  # fmt: skip
    return out


def _webnlg_lex(lex, triples, stats: AlignmentStats, source: str) -> Example | None:
    text_el = lex.find("text")
    if text_el is None or not (text_el.text or "").strip():
        return None
    text = text_el.text
    words, spans = _words_of(text)
    used: list[tuple[int, int]] = []
    mentions: dict[str, list[tuple[int, int]]] = {}
    refs = lex.find("references")
    for ref in refs.iter("reference") if refs is not None else []:
        surface, entity = (ref.text or "").strip(), ref.get("entity", "")
        if ref.get("type") in ("pronoun", "demonstrative") or not surface:
            continue
        stats.mentions += 1
        span = None
        for m in re.finditer(re.escape(surface), text):
            ws = _char_to_word_span(spans, m.start(), m.end())
            if ws and not any(ws[0] < e and s < ws[1] for s, e in used):
                span = ws
                break
        if span is None:
            stats.dropped_mentions += 1
            continue
        used.append(span)
        mentions.setdefault(entity, []).append(span)
    entities: list[tuple[int, int, str]] = []
    clusters: list[list[int]] = []
    cluster_of: dict[str, int] = {}
    for entity, spans_ in mentions.items():
        cluster_of[entity] = len(clusters)
        clusters.append([])
        for s, e in spans_:
            clusters[-1].append(len(entities))
            entities.append((s, e, WEBNLG_ENTITY_LABEL))
    relations = set()
    for s, p, o in triples:
        stats.triples += 1
        if s in cluster_of and o in cluster_of and s != o:
            relations.add((cluster_of[s], cluster_of[o], p))
        else:
            stats.dropped_triples += 1
    if not relations:
        return None
    return Example(
        words=words,
        entities=entities,
        relations=sorted(relations),
        entity_labels=[WEBNLG_ENTITY_LABEL],
        relation_labels=sorted({p for _, p, _ in triples}),
        clusters=clusters,
        source=source,
    )


def webnlg_predicates(path: str | Path) -> dict[str, int]:
    """Split predicate names of a WebNLG folder with the number of texts carrying each."""
    import xml.etree.ElementTree as ET

    path = Path(path)
    counts: dict[str, int] = {}
    for file in sorted(path.rglob("*.xml")) if path.is_dir() else [path]:
        for entry in ET.parse(file).getroot().iter("entry"):
            preds = {
                split_predicate(t.text.split("|")[1].strip())
                for t in entry.iter("mtriple")
                if t.text and t.text.count("|") == 2
            }
            n = len(entry.findall("lex"))
            for p in preds:
                counts[p] = counts.get(p, 0) + n
    return counts


# --------------------------------------------------------------------------- re3d

RE3D_ENTITY_PHRASES = {
    "Organisation": "organization",
    "Location": "location",
    "Person": "person",
    "Nationality": "nationality",
    "Temporal": "time expression",
    "Quantity": "quantity",
    "Weapon": "weapon",
    "Vehicle": "vehicle",
    "MilitaryPlatform": "military platform",
    "DocumentReference": "document reference",
    "Money": "money",
    "Coordinate": "coordinate",
    "CommsIdentifier": "communications identifier",
    "Frequency": "frequency",
}
RE3D_RELATION_PHRASES = {
    "CoLocated": "co-located with",
    "FightingAgainst": "fighting against",
    "BelongsTo": "belongs to",
    "CommWith": "communicates with",
    "HasAttrOf": "has attribute",
    "IsSynonymOf": "is synonym of",
    "InChargeOf": "in charge of",
    "AlliesOf": "allies of",
    "Likes": "likes",
    "Dislikes": "dislikes",
    "Apart": "apart from",
}
RE3D_SYMMETRIC = {"co-located with", "communicates with", "is synonym of", "allies of"}


def _json_lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def read_re3d(
    root: str | Path,
    sources: list[str] | None = None,
    *,
    window_words: int = 200,
    stats: AlignmentStats | None = None,
) -> list[Example]:
    """Read re3d (character offsets into each document's text), one example per window.

    A span annotated with several types keeps its most confident one; spans that do
    not fall on word boundaries are dropped (counted). Documents are cut into windows
    of whole sentences (lines) of at most ``window_words`` words, so they fit the model;
    relations whose arguments fall into different windows are lost (counted).
    """
    root = Path(root)
    stats = stats if stats is not None else AlignmentStats()
    names = sources or sorted(p.name for p in root.iterdir() if (p / "documents.json").is_file())
    out = []
    ent_labels = list(RE3D_ENTITY_PHRASES.values())
    rel_labels = list(RE3D_RELATION_PHRASES.values())
    for name in names:
        folder = root / name
        docs = _json_lines(folder / "documents.json")
        ents_by_doc: dict[str, list[dict]] = {}
        for e in _json_lines(folder / "entities.json"):
            ents_by_doc.setdefault(e["documentId"], []).append(e)
        rels_by_doc: dict[str, list[dict]] = {}
        for r in _json_lines(folder / "relations.json"):
            rels_by_doc.setdefault(r["documentId"], []).append(r)
        for doc in docs:
            text = doc["text"]
            words, spans = _words_of(text)
            best: dict[tuple[int, int], dict] = {}
            for e in ents_by_doc.get(doc["_id"], []):
                key = (e["begin"], e["end"])
                if key not in best or e["confidence"] > best[key]["confidence"]:
                    best[key] = e
            word_ent: dict[tuple[int, int], tuple[int, int, str]] = {}
            for (b, e_), ent in sorted(best.items()):
                stats.mentions += 1
                ws = _char_to_word_span(spans, b, e_)
                if ws is None or ent["type"] not in RE3D_ENTITY_PHRASES:
                    stats.dropped_mentions += 1
                    continue
                word_ent[(b, e_)] = (*ws, RE3D_ENTITY_PHRASES[ent["type"]])
            doc_rels = []
            for r in rels_by_doc.get(doc["_id"], []):
                stats.triples += 1
                h = word_ent.get((r["sourceBegin"], r["sourceEnd"]))
                t = word_ent.get((r["targetBegin"], r["targetEnd"]))
                if h is None or t is None or r["type"] not in RE3D_RELATION_PHRASES:
                    stats.dropped_triples += 1
                    continue
                doc_rels.append((h, t, RE3D_RELATION_PHRASES[r["type"]]))
            for lo, hi in _windows(text, spans, window_words):
                inside = [x for x in word_ent.values() if lo <= x[0] and x[1] <= hi]
                index = {x: i for i, x in enumerate(inside)}
                rels = set()
                for h, t, lab in doc_rels:
                    if h in index and t in index and h != t:
                        rels.add((index[h], index[t], lab))
                out.append(
                    Example(
                        words=words[lo:hi],
                        entities=[(s - lo, e - lo, lab) for s, e, lab in inside],
                        relations=sorted(rels),
                        entity_labels=ent_labels,
                        relation_labels=rel_labels,
                        symmetric=set(RE3D_SYMMETRIC),
                        source=f"re3d-{name}",
                    )
                )
            kept = sum(1 for h, t, _ in doc_rels if any(
                lo <= min(h[0], t[0]) and max(h[1], t[1]) <= hi
                for lo, hi in _windows(text, spans, window_words)
            ))  # fmt: skip
            stats.dropped_triples += len(doc_rels) - kept
    return out


def _windows(text: str, spans: list[tuple[int, int]], max_words: int) -> list[tuple[int, int]]:
    """Word ranges of consecutive lines (re3d puts one sentence per line), each at most
    ``max_words`` long (a longer line is cut)."""
    line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
    line_of_word = [bisect.bisect_right(line_starts, s) - 1 for s, _ in spans]
    windows, lo = [], 0
    for i in range(1, len(spans) + 1):
        at_line_break = i == len(spans) or line_of_word[i] != line_of_word[i - 1]
        if i == len(spans) or (at_line_break and i - lo >= max_words * 0.6) or i - lo >= max_words:
            windows.append((lo, i))
            lo = i
    return [(a, b) for a, b in windows if b > a]


# --------------------------------------------------------------------------- CoNLL-style NER

NER_EXTRA_PHRASES = {
    # WNUT17
    "person": "person", "location": "location", "corporation": "company",
    "product": "product", "creative-work": "creative work", "group": "group",
    # wikigold (CoNLL-2003 tags)
    "PER": "person", "LOC": "location", "ORG": "organization", "MISC": "miscellaneous",
    # GUM
    "abstract": "abstract concept", "animal": "animal", "event": "event", "object": "object",
    "organization": "organization", "place": "place", "plant": "plant",
    "quantity": "quantity", "substance": "substance", "time": "time",
}  # fmt: skip

#: Pronouns and determiners that GUM annotates as entities on their own; a zero-shot
#: extractor for knowledge graphs should not learn that "my" is a person.
_PRONOUNS = frozenset(
    "i me my mine myself we us our ours you your yours he him his she her hers it its they "
    "them their theirs this that these those who whom which what there here one".split()
)


def read_conll_ner(
    path: str | Path,
    *,
    source: str | None = None,
    labels: list[str] | None = None,
    drop_pronouns: bool = True,
) -> list[Example]:
    """Read token<TAB or space>tag files (BIO or IO tags) into NER-only examples.

    ``labels``: the phrases this dataset annotates (default: every phrase its tags map
    to). Sentences are separated by blank lines; ``-DOCSTART-`` lines are skipped.
    Entities made only of pronouns are dropped (see ``_PRONOUNS``).
    """
    path = Path(path)
    sentences: list[list[tuple[str, str]]] = [[]]
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t") if "\t" in line else line.split(" ")
        if not line.strip():
            if sentences[-1]:
                sentences.append([])
            continue
        if parts[0].startswith("-DOCSTART-"):
            continue
        sentences[-1].append((parts[0], parts[-1].strip() if len(parts) > 1 else "O"))
    out = []
    seen_labels: set[str] = set()
    for sent in sentences:
        if not sent:
            continue
        words = [w for w, _ in sent]
        ents, start, cur = [], None, None
        for i, (_, tag) in enumerate([*sent, ("", "O")]):
            if tag == "O":
                prefix, typ = "O", None
            elif tag[:2] in ("B-", "I-"):
                prefix, typ = tag[0], tag[2:]
            else:  # IO files without prefixes
                prefix, typ = "I", tag
            begins = typ is not None and (prefix == "B" or typ != cur)
            if cur is not None and (typ is None or begins):
                ents.append((start, i, cur))
                cur = None
            if typ is not None and cur is None:
                start, cur = i, typ
        kept = []
        for s, e, t in ents:
            phrase = NER_EXTRA_PHRASES.get(t, t.lower())
            if drop_pronouns and all(w.lower() in _PRONOUNS for w in words[s:e]):
                continue
            kept.append((s, e, phrase))
            seen_labels.add(phrase)
        out.append(
            Example(words=words, entities=kept, relations=[], entity_labels=[],
                    relation_labels=[], source=source or path.stem)
        )  # fmt: skip
    ent_labels = list(labels) if labels else sorted(seen_labels)
    for ex in out:
        ex.entity_labels = ent_labels
        ex.entities = [x for x in ex.entities if x[2] in ent_labels]
    return out


# --------------------------------------------------------------------------- label pools


def wikidata_relation_names(path: str | Path) -> dict[str, str]:
    """Wikidata property label -> description (11,665 names: a pool of relation labels)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    out: dict[str, str] = {}
    for row in data:
        label = " ".join(str(row.get("propertyLabel", "")).split())
        if label and len(label) <= 48 and label not in out:
            out[label.lower()] = " ".join(str(row.get("propertyDescription", "")).split())
    return out


# --------------------------------------------------------------------------- label phrasings

#: Other ways people name the common entity types. During training a label is
#: sometimes shown in one of these phrasings, so the model learns what the words mean
#: rather than the few strings it was trained on ("city" or "place", not only "location").
ENTITY_VARIANTS: dict[str, list[str]] = {
    "person": ["people", "human", "person name", "individual"],
    "organization": ["organisation", "institution", "company or institution"],
    "location": ["place", "geographic location", "geographical place"],
    "company": ["business", "corporation", "firm"],
    "date": ["calendar date", "date expression"],
    "time": ["time expression", "point in time"],
    "money": ["monetary amount", "sum of money", "amount of money"],
    "quantity": ["amount", "measurement"],
    "number": ["numeral", "count"],
    "percentage": ["percent", "proportion"],
    "nationality": ["nationality or group", "demonym"],
    "product": ["commercial product", "goods"],
    "event": ["happening", "incident"],
    "work of art": ["artwork", "creative work"],
    "creative work": ["work of art", "artwork"],
    "facility": ["building or facility", "infrastructure"],
    "law": ["legal document", "statute"],
    "language": ["human language"],
    "country": ["nation", "sovereign state"],
    "city": ["town", "municipality"],
    "group": ["collective", "group of people"],
}


def label_variant(label: str, rng: random.Random, prob: float) -> str:
    """``label`` or, with probability ``prob``, another phrasing of it."""
    options = ENTITY_VARIANTS.get(label)
    if options and rng.random() < prob:
        return rng.choice(options)
    return label


def relation_variant(
    label: str, descriptions: dict[str, str], rng: random.Random, prob: float, max_words: int = 8
) -> str:
    """``label`` or, with probability ``prob`` and where one is known, the label followed by
    the first words of its description ("country of citizenship: the object is a country
    that recognizes the subject as its citizen"): the model learns to read meaning."""
    desc = descriptions.get(label)
    if desc and rng.random() < prob:
        return described_label(label, desc, max_words)
    return label
