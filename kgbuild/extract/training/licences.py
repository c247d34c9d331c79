"""The licence of each training dataset, and what it means for the weights trained on it.

Weights learned from data inherit no licence text of their own, but a user who ships
them commercially must respect the terms of the data: a non-commercial corpus
(WebNLG, the REBEL sample) makes the checkpoint "non-commercial data inside". The model
card lists, per checkpoint, the licence of every dataset of its recipe
(:func:`licence_table`), and ``configs/extractor-permissive.json`` is a recipe that uses
only data marked ``permissive`` here.

Sources: each dataset's SOURCE.txt / LICENSE files in ../shared/datasets.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DataLicence:
    """The terms of one dataset: its licence and whether it allows commercial use of
    what is trained on it without further permission."""

    name: str
    licence: str
    permissive: bool


#: Dataset path (relative to the data root; a folder matches everything below it, a
#: ``re3d/<source>`` entry one source of re3d) -> its licence.
LICENCES: dict[str, DataLicence] = {
    "conll04": DataLicence("CoNLL04", "research use (no licence stated)", False),
    "scierc": DataLicence("SciERC", "research use (no licence stated)", False),
    "crossre": DataLicence("CrossRE", "GPL-3.0", False),
    "re-docred": DataLicence("Re-DocRED", "MIT", True),
    "webnlg": DataLicence("WebNLG (enriched v1.6)", "CC BY-NC-SA 4.0", False),
    "ner-extra/WNUT17": DataLicence("WNUT17", "CC BY 4.0", True),
    "ner-extra/wikigold": DataLicence("wikigold", "CC BY 4.0", True),
    "ner-extra/GUM": DataLicence(
        "GUM", "annotations CC BY 4.0; texts CC BY / BY-SA / BY-NC-SA 3.0", False
    ),
    "multiconer2-en": DataLicence("MultiCoNER II (English)", "CC BY 4.0", True),
    "fewrel": DataLicence("FewRel (Wikipedia)", "MIT", True),
    "fewrel-extra/val_nyt.json": DataLicence(
        "FewRel NYT", "MIT repository; NYT texts (LDC corpus terms)", False
    ),
    "fewrel-extra/val_semeval.json": DataLicence(
        "SemEval-2010 task 8", "MIT repository; no licence stated for the corpus", False
    ),
    "rebel-sample": DataLicence("REBEL sample", "CC BY-NC-SA 4.0", False),
    "pile-ner-slimer": DataLicence("Pile-NER (SLIMER sample)", "probably CC BY-NC 4.0", False),
    "re3d/Australian Department of Foreign Affairs": DataLicence(
        "re3d: Australian DFAT", "CC BY 3.0 AU", True
    ),
    "re3d/CENTCOM": DataLicence("re3d: CENTCOM", "public domain", True),
    "re3d/UK Government": DataLicence("re3d: UK Government", "Open Government Licence v3", True),
    "re3d/US State Department": DataLicence("re3d: US State Department", "public domain", True),
    "re3d/Delegation of the European Union to Syria": DataLicence(
        "re3d: EU Delegation to Syria", "EEAS legal notice (reuse with attribution)", False
    ),
    "re3d/BBC Online": DataLicence("re3d: BBC Online", "CC BY-NC 3.0", False),
    "re3d/Wikipedia": DataLicence("re3d: Wikipedia", "CC BY-SA 3.0", False),
    "wikidata-properties": DataLicence("Wikidata property names", "CC0", True),
}


def dataset_licences(spec: dict) -> list[DataLicence]:
    """The licences of one training-data entry of a config (a ``DataSpec`` as a dict):
    one per re3d source it reads, else the entry whose path is the longest prefix of
    its ``path``.

    Raises:
        KeyError: for a dataset with no known licence (add it to :data:`LICENCES`).
    """
    path = spec["path"].strip("/")
    if path == "re3d":
        sources = spec.get("sources") or [
            k.split("/", 1)[1] for k in LICENCES if k.startswith("re3d/")
        ]
        return [LICENCES[f"re3d/{source}"] for source in sources]
    matches = [k for k in LICENCES if path == k or path.startswith(k + "/")]
    if not matches:
        raise KeyError(f"no licence known for training data {path!r}: add it to LICENCES")
    return [LICENCES[max(matches, key=len)]]


def licence_table(train: list[dict]) -> list[str]:
    """Markdown rows (with a header) of the licences of a recipe's training data, and a
    last line saying whether all of it is permissive."""
    rows = ["| data | licence | commercial use of the weights |", "|---|---|---|"]
    seen: set[str] = set()
    all_permissive = True
    for spec in train:
        for lic in dataset_licences(spec):
            if lic.name in seen:
                continue
            seen.add(lic.name)
            all_permissive &= lic.permissive
            rows.append(
                f"| {lic.name} | {lic.licence} | {'yes' if lic.permissive else 'check terms'} |"
            )
    rows.append("")
    rows.append(
        "All training data of this recipe is permissively licensed."
        if all_permissive
        else "Some training data is non-commercial or research-only: check those terms before "
        "using these weights commercially (`configs/extractor-permissive.json` trains on "
        "permissive data only)."
    )
    return rows
