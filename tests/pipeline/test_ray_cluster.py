"""``engine="ray"`` on a two-node Ray cluster on this machine gives the sequential graph.

``ray.cluster_utils.Cluster`` starts a head node and a second node (separate raylets,
one CPU each), so the two actors run under different nodes, as on two machines. The
run joins the cluster by its address (``ray_address``), as ``--ray-address`` does.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_extractor import FakeExtractor
from test_incremental import ingest, networkx_dump

from kgbuild.store import NetworkXStore

pytest.importorskip("ray.data", reason="needs kgbuild[ray]")

pytestmark = pytest.mark.ray

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent

NODE_EXTRACTOR = """
import sys
sys.path.insert(0, {tests!r})
import ray
from fake_extractor import FakeExtractor


class NodeExtractor(FakeExtractor):
    # Records the Ray node of each call, so the test sees both nodes working.
    def extract(self, texts, *args, **kwargs):
        with open({nodes!r}, "a") as f:
            f.write(ray.get_runtime_context().get_node_id() + "\\n")
        return super().extract(texts, *args, **kwargs)
"""


@pytest.fixture(scope="module")
def two_nodes():
    import ray
    from ray.cluster_utils import Cluster

    if ray.is_initialized():
        ray.shutdown()
    node_args = {"num_cpus": 1, "object_store_memory": 100 * 1024**2}
    cluster = Cluster(
        initialize_head=True, head_node_args={**node_args, "include_dashboard": False}
    )
    cluster.add_node(**node_args)
    cluster.wait_for_nodes()
    try:
        yield cluster
    finally:
        cluster.shutdown()


def test_two_node_cluster_gives_the_sequential_graph(tmp_path, two_nodes, monkeypatch):
    nodes_file = tmp_path / "nodes.txt"
    module = tmp_path / "node_extractor.py"
    module.write_text(
        NODE_EXTRACTOR.format(tests=str(TESTS), nodes=str(nodes_file)), encoding="utf-8"
    )
    monkeypatch.setenv("KGBUILD_EXTRACTOR", f"{module}:NodeExtractor")
    paths = [TESTS / "data" / "unicode", TESTS / "data" / "pipeline", REPO / "examples" / "docs"]
    from kgbuild.pipeline import BuildConfig, KnowledgeGraphBuilder

    builder = KnowledgeGraphBuilder(
        NetworkXStore(tmp_path / "ray.json"),
        config=BuildConfig(engine="ray", ray_address=two_nodes.address, workers=2),
        progress=False,
    )
    summary = builder.ingest(paths)
    assert summary.documents.new > 10
    seq = ingest(NetworkXStore(tmp_path / "seq.json"), paths, FakeExtractor())
    assert summary.graph == seq.graph
    assert networkx_dump(tmp_path / "ray.json") == networkx_dump(tmp_path / "seq.json")
    assert len(set(nodes_file.read_text().split())) == 2, "expected work on both nodes"
