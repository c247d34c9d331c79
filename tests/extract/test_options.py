"""The extractor's run options: one typed object, its environment fallbacks and values."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from kgbuild.extract import default_model_dir, load_extractor
from kgbuild.extract.inference.layouts import LAYOUTS
from kgbuild.extract.inference.lazy import checkpoint_model_id
from kgbuild.extract.options import (
    BACKENDS,
    ENVIRONMENT,
    RELATION_LABEL_LAYOUTS,
    ExtractorOptions,
    model_id_of,
)
from kgbuild.pipeline.builder import BuildConfig


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for variable in ENVIRONMENT.values():
        monkeypatch.delenv(variable, raising=False)


def test_defaults_when_nothing_is_set():
    options = ExtractorOptions().resolved()
    assert (options.backend, options.int8, options.relation_labels) == ("auto", False, "hybrid")
    assert options.model is None and options.threads is None


def test_the_environment_fills_what_is_not_given(monkeypatch):
    monkeypatch.setenv("KGBUILD_BACKEND", " Torch ")
    monkeypatch.setenv("KGBUILD_QUANTIZE", "yes")
    monkeypatch.setenv("KGBUILD_RELATION_LABELS", "prompt")
    options = ExtractorOptions().resolved()
    assert (options.backend, options.int8, options.relation_labels) == ("torch", True, "prompt")
    # given values win over the environment
    given = ExtractorOptions(backend="onnx", int8=False, relation_labels="hybrid").resolved()
    assert (given.backend, given.int8, given.relation_labels) == ("onnx", False, "hybrid")


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("KGBUILD_BACKEND", "gpu", "unknown backend 'gpu'"),
        ("KGBUILD_QUANTIZE", "maybe", "use 1 (int8) or 0 (fp32)"),
        ("KGBUILD_RELATION_LABELS", "sideways", "unknown relation-label layout 'sideways'"),
        ("KGBUILD_RELATION_LABELS", "separate", "retired"),
    ],
)
def test_a_bad_environment_value_names_its_variable(monkeypatch, variable, value, message):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError) as error:
        ExtractorOptions().resolved()
    assert str(error.value).startswith(f"${variable}={value!r}: ")
    assert message in str(error.value)


def test_values_are_checked_and_normalised():
    assert ExtractorOptions(relation_labels=" PROMPT ").relation_labels == "prompt"
    assert ExtractorOptions(relation_labels="auto").relation_labels == "hybrid"  # old name
    for retired in ("oneway", "separate"):
        with pytest.raises(ValidationError, match="retired"):
            ExtractorOptions(relation_labels=retired)
    with pytest.raises(ValidationError, match="unknown backend"):
        ExtractorOptions(backend="cuda")
    with pytest.raises(ValidationError):
        ExtractorOptions(threads=0)
    with pytest.raises(ValidationError):
        ExtractorOptions(quantize=True)  # no such option: extra fields are refused


def test_one_name_per_layout_everywhere():
    # the options' values are the registry's names, and every layout has a graph
    assert set(RELATION_LABEL_LAYOUTS) == set(LAYOUTS)
    assert BACKENDS == ("auto", "onnx", "torch")
    assert {layout.graph for layout in LAYOUTS.values()} == {"joint", "hybrid"}


def test_model_id_names_int8_only():
    assert model_id_of("m", False) == "m" and model_id_of("m", True) == "m-int8"
    assert model_id_of("m", True, "1a2b3c4d") == "m@1a2b3c4d-int8"
    assert ExtractorOptions(int8=True).model_id("m") == "m-int8"
    assert ExtractorOptions(relation_labels="prompt").model_id("m") == "m"


def test_build_config_holds_the_options_and_the_lazy_extractor_uses_them(tmp_path):
    config = BuildConfig.model_validate({"extractor": {"backend": "torch", "int8": True}})
    assert config.extractor == ExtractorOptions(backend="torch", int8=True)
    lazy = load_extractor(options=config.extractor, lazy=True)
    shipped = checkpoint_model_id(default_model_dir())
    assert lazy.model_id == f"{shipped}-int8" and not lazy.loaded
    assert lazy.directory == default_model_dir()
    # a field given beside the options overrides it; the folder is checked at once
    assert load_extractor(options=config.extractor, int8=False, lazy=True).model_id == shipped
    with pytest.raises(FileNotFoundError, match="no extractor checkpoint"):
        load_extractor(Path(tmp_path), lazy=True)


def test_a_lazy_extractor_pickles_with_its_options():
    import pickle

    lazy = load_extractor(options=ExtractorOptions(backend="torch", threads=1), lazy=True)
    again = pickle.loads(pickle.dumps(lazy))
    assert again.options == lazy.options and again.model_id == lazy.model_id
    assert again.options.model is None  # the shipped checkpoint travels as "the default"
