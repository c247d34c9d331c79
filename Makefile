# Two commands do everything on a fresh machine (needs Python 3.11 and make):
#
#   make demo   create .venv, install kgbuild alone (no extras: the demo reads text, Markdown,
#               HTML and JSONL and writes a NetworkX file and a page, all with the core
#               dependencies), build a graph from examples/docs with the extractor shipped
#               in kgbuild, and print query results
#   make test   the same set-up if needed, then the extras the tests use (test, formats,
#               train, viz, ray), then the whole test suite against a local Bolt
#               server of its own (started before pytest and stopped afterwards, even on
#               failure; a server you started with scripts/test-server is left alone) and,
#               for the viewer's browser tests, chromium (scripts/install-chromium installs
#               it with apt-get where it is missing)
#
# CI runs `make test` (.ci/run). Variables: PYTHON, VENV, TORCH, PYTEST_ARGS.

PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
# CPU-only torch, pinned and installed first: an unpinned torch pulls a 5 GB CUDA build.
# pip finds the +cpu wheel in a local wheel folder or in PyTorch's CPU wheel index (give it
# with PIP_EXTRA_INDEX_URL where neither is configured).
TORCH ?= torch==2.13.0+cpu
PYTEST_ARGS ?= -q -ra --durations=25
# What `make test` installs on top of the demo's set-up (see pyproject.toml).
TEST_EXTRAS := test,formats,train,viz,ray,accurate
PIP := $(BIN)/python -m pip --disable-pip-version-check

# The extractor's encoder ships as a local package; never reach for a model hub.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: demo test venv clean

demo: $(VENV)/.installed-demo
	$(BIN)/python examples/build_graph.py --store build/examples/graph.json --mermaid \
		--html build/examples/graph.html

# The Ray tests run in a pytest process of their own: after a local Ray session has run
# and stopped in the same process as the embedded JVM and ONNX Runtime, a later test
# crashed with a segmentation fault (seen twice; cause not found yet).
test: $(VENV)/.installed-test
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
		|| [ -n "$${KGBUILD_CHROMIUM:-}" ] || scripts/install-chromium \
		|| echo "make test: no chromium; the browser tests skip (and fail under CI=true)"
	@set -u; \
	export KGBUILD_TEST_SERVER_DIR="$(CURDIR)/.test-server/make-test-$$$$"; \
	stop_server() { $(BIN)/python scripts/test-server stop || true; rm -rf "$$KGBUILD_TEST_SERVER_DIR"; }; \
	trap stop_server EXIT INT TERM; \
	$(BIN)/python scripts/test-server start || exit 1; \
	status=0; \
	$(BIN)/python -m pytest $(PYTEST_ARGS) -m "not ray" || status=$$?; \
	if [ "$$status" -eq 5 ]; then echo "pytest collected no tests"; status=0; fi; \
	ray_status=0; \
	$(BIN)/python -m pytest $(PYTEST_ARGS) -m ray || ray_status=$$?; \
	if [ "$$ray_status" -eq 5 ]; then ray_status=0; fi; \
	if [ "$$status" -eq 0 ]; then status=$$ray_status; fi; \
	exit $$status

# The whole development set-up (what `make test` installs).
venv: $(VENV)/.installed-test

# Two stamps, each re-installing when pyproject.toml changes: the demo's (kgbuild and its
# core dependencies) and the tests' (the extras on top). The tests' stamp depends on the
# demo's, so a changed pyproject.toml re-installs both for `make test` and only the first
# for `make demo`.
$(VENV)/.installed-demo: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --progress-bar off "$(TORCH)"
	$(PIP) install --progress-bar off -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed-demo
	$(PIP) install --progress-bar off -e ".[$(TEST_EXTRAS)]"
	touch $@

clean:
	rm -rf $(VENV) build/examples .pytest_cache
