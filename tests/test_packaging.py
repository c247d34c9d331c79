"""The wheel users install carries what a source checkout has: the queries and the model."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_ships_the_cypher_queries_the_default_model_and_the_viewer(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("kgbuild-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for query in sorted((REPO / "cypher").glob("*.cypher")):
        assert f"kgbuild/cypher/{query.name}" in names
    for part in ("config.json", "model.safetensors", "one_way_lora.safetensors", "README.md"):
        assert f"kgbuild/models/kgbuild-relex-minilm/{part}" in names
    for part in ("template.html", "app.js", "app.css", "vendor/vis-network.min.js"):
        assert f"kgbuild/viewer/{part}" in names
    assert "kgbuild/viewer/vendor/vis-network.LICENSE-MIT" in names
