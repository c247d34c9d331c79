"""Training and evaluation data for the joint extractor.

Every dataset is read into :class:`Example`: words, entity mentions as word
spans typed by a natural-language label phrase, entity clusters (mentions of
one entity; singletons for sentence-level data) and relations between
clusters. Label phrases are what the model reads, so each reader maps the
dataset's type codes to readable phrases (SpERT's ``verbose`` names, and the
tables below for CrossRE and Re-DocRED).
"""

from __future__ import annotations

import json
import logging
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

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


def read_dataset(spec: dict, root: Path) -> list[Example]:
    """Read one entry of a training config's ``data`` list.

    ``spec``: ``{"format": "spert"|"crossre"|"docred", "path": ..., "types": ...,
    "rel_info": ..., "limit": n, "skip": n}`` with paths relative to ``root``.
    """
    fmt = spec["format"]
    path = root / spec["path"]
    if fmt == "spert":
        examples = read_spert(path, root / spec["types"], source=spec.get("name"))
    elif fmt == "crossre":
        examples = read_crossre(path)
    elif fmt == "docred":
        examples = read_docred(path, root / spec["rel_info"])
    else:
        raise ValueError(f"unknown data format {fmt!r} in {spec}")
    skip, limit = spec.get("skip", 0), spec.get("limit")
    examples = examples[skip : skip + limit if limit else None]
    logger.info("read %d examples from %s", len(examples), path)
    return examples


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


def sample_labels(
    positives: list[str],
    own_labels: list[str],
    distractors: list[str],
    rng: random.Random,
    *,
    max_labels: int,
    max_distractors: int,
    drop_negative_prob: float,
) -> list[str]:
    """Label set for one training example: every positive label, some of the dataset's
    negative labels, a few distractors from elsewhere (never a synonym of an own label),
    shuffled so the model cannot learn positions."""
    own = {norm_label(x) for x in own_labels}
    labels = list(dict.fromkeys(positives))
    negatives = [x for x in own_labels if x not in labels]
    rng.shuffle(negatives)
    for neg in negatives:
        if len(labels) >= max_labels:
            break
        if rng.random() >= drop_negative_prob:
            labels.append(neg)
    pool = [d for d in distractors if norm_label(d) not in own]
    for d in rng.sample(pool, k=min(len(pool), rng.randint(0, max_distractors))):
        if len(labels) >= max_labels:
            break
        labels.append(d)
    rng.shuffle(labels)
    return labels
