"""Draw the WebNLG predicates held out of training (the unseen-relation benchmark).

Seeded and reproducible: from the predicates that occur in WebNLG train and in the split
evaluated (test for the 30 benchmark predicates, dev for the 15 threshold predicates),
whose name is not a relation name of another training set (CoNLL04, SciERC, CrossRE,
Re-DocRED, re3d), draw 30 for test and then 15 more for dev. Prints JSON for the config.

    python scripts/draw_heldout_relations.py [--seed 17] [--data ../shared/datasets]
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from kgbuild.extract.training.data import (
    CROSSRE_RELATION_PHRASES,
    RE3D_RELATION_PHRASES,
    load_spert_types,
    norm_label,
    webnlg_predicates,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--data", default="../shared/datasets")
    args = parser.parse_args()
    root = Path(args.data)
    train = webnlg_predicates(root / "webnlg/en/train")
    test = webnlg_predicates(root / "webnlg/en/test")
    dev = webnlg_predicates(root / "webnlg/en/dev")
    other = set()
    for name in ("conll04", "scierc"):
        other |= set(load_spert_types(root / name / f"{name}_types.json")[1])
    crossre = set()
    for f in (root / "crossre/crossre_data").glob("*-train.json"):
        for line in f.read_text().splitlines():
            for r in json.loads(line)["relations"]:
                crossre.add(CROSSRE_RELATION_PHRASES.get(r[4], r[4].replace("-", " ")))
    other |= crossre | set(RE3D_RELATION_PHRASES.values())
    other |= set(json.loads((root / "re-docred/rel_info.json").read_text()).values())
    taken = {norm_label(x) for x in other}
    rng = random.Random(args.seed)
    candidates = sorted(p for p in train if p in test and norm_label(p) not in taken)
    test_held = sorted(rng.sample(candidates, 30))
    rest = sorted(
        p for p in train if p in dev and p not in test_held and norm_label(p) not in taken
    )
    dev_held = sorted(rng.sample(rest, 15))
    print(json.dumps({"test": test_held, "dev": dev_held}, indent=1))


if __name__ == "__main__":
    main()
