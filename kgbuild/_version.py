"""kgbuild's version: the one place it is written.

pyproject.toml reads it (``[tool.setuptools.dynamic]``), ``kgbuild.__version__`` re-exports
it, and modules inside the package import it from here, never from ``kgbuild`` itself
(whose public names import the pipeline lazily: an import of the package root from
inside would close a circle).
"""

__version__ = "0.1.0"
