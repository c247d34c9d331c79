"""Build hook: ship the top-level ``cypher/`` folder inside the wheel as ``kgbuild/cypher``.

The queries live once, at the top of the repository (where users look for them); an
installed kgbuild finds them in its package (see ``kgbuild/store/queries.py``). All
other metadata is in pyproject.toml.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPyWithCypher(build_py):
    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "kgbuild" / "cypher"
        target.mkdir(parents=True, exist_ok=True)
        for path in sorted(Path(__file__).parent.joinpath("cypher").glob("*.cypher")):
            self.copy_file(str(path), str(target / path.name))


setup(cmdclass={"build_py": BuildPyWithCypher})
