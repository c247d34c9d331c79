"""README.md and docs/*.md stay true to the repository they describe.

- every relative link (and image) points to a file that exists, and a `#heading` anchor
  to a heading of that page;
- every `kgbuild ...` command line shown in a shell code block or an inline code span
  names a real command and only real options of it (read from the click objects behind
  the typer app in kgbuild.cli.main, which `--help` prints);
- every `make TARGET` shown is a target of the Makefile;
- every JSON schema shown (a block with "entity_types") is a valid `Schema`.

The checkers are tested on made-up pages too, so they are known to fail when a page is
wrong.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from kgbuild.cli.main import app
from kgbuild.schema import Schema

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
# Fenced blocks whose lines are shell (or shell-like: a crontab, a systemd unit).
SHELL_LANGS = {"", "bash", "sh", "shell", "console", "cron", "ini"}
SEPARATORS = {"|", "||", "&", "&&", ";", ">", ">>", "<", "(", ")"}

FENCE = re.compile(r"^(```+|~~~+)\s*([\w+-]*)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
CODE_SPAN = re.compile(r"(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.S)
LINK = re.compile(r"!?\[(?:[^\]]|\n)*?\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
MAKE_RULE = re.compile(r"^([A-Za-z0-9_.%/$()-][^:=#\s]*(?:\s+[^:=#\s]+)*)\s*::?(?!=)", re.M)


@dataclass(frozen=True)
class Snippet:
    """A piece of a page: a code block's text or an inline code span, and where it is."""

    where: str
    text: str
    lang: str | None  # None for an inline code span


@dataclass(frozen=True)
class Page:
    path: Path
    prose: str  # the page with its code blocks blanked (line numbers kept)
    blocks: list[Snippet]

    def spans(self) -> list[Snippet]:
        out = []
        for m in CODE_SPAN.finditer(self.prose):
            if "\n\n" in m.group(2):  # a code span never crosses a paragraph
                continue
            line = self.prose.count("\n", 0, m.start()) + 1
            out.append(Snippet(f"{self.path.name}:{line}", m.group(2).strip(), None))
        return out


def parse_page(path: Path, text: str | None = None) -> Page:
    text = path.read_text(encoding="utf-8") if text is None else text
    prose, blocks = [], []
    fence, lang, start, body = None, "", 0, []
    for number, line in enumerate(text.split("\n"), start=1):
        m = FENCE.match(line)
        if fence is None and m:
            fence, lang, start, body = m.group(1), m.group(2).lower(), number, []
            prose.append("")
        elif fence is not None and line.startswith(fence) and not line[len(fence) :].strip():
            blocks.append(Snippet(f"{path.name}:{start}", "\n".join(body), lang))
            fence = None
            prose.append("")
        elif fence is not None:
            body.append(line)
            prose.append("")
        else:
            prose.append(line)
    assert fence is None, f"{path.name}:{start}: code block never closed"
    return Page(path, "\n".join(prose), blocks)


def github_anchors(page: Page) -> set[str]:
    """The anchors GitHub gives the page's headings (lower case, punctuation dropped)."""
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    for line in page.prose.split("\n"):
        m = HEADING.match(line)
        if not m:
            continue
        title = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", m.group(2))  # a link's text only
        slug = re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def link_problems(page: Page) -> list[str]:
    prose = CODE_SPAN.sub(lambda m: " " * len(m.group(0)), page.prose)
    problems = []
    for m in LINK.finditer(prose):
        target = m.group(1)
        where = f"{page.path.name}:{prose.count(chr(10), 0, m.start()) + 1}"
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target):  # https:, mailto:, ...
            continue
        file_part, _, anchor = target.partition("#")
        if not file_part:  # an anchor on this page
            if anchor not in github_anchors(page):
                problems.append(f"{where}: link to {target}: no heading #{anchor} here")
            continue
        linked = (page.path.parent / file_part).resolve()
        if not linked.exists():
            problems.append(f"{where}: link to {target}: no such file")
        elif anchor and linked.suffix == ".md":
            if anchor not in github_anchors(parse_page(linked)):
                problems.append(f"{where}: link to {target}: no heading #{anchor} there")
    return problems


def shell_lines(snippet: Snippet) -> list[list[str]]:
    """The snippet's command lines as tokens (continuation lines joined, comments dropped)."""
    if snippet.lang is None:
        lines = [" ".join(snippet.text.split())]
    elif snippet.lang in SHELL_LANGS:
        lines = snippet.text.replace("\\\n", " ").split("\n")
    else:
        return []
    out = []
    for line in lines:
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        try:
            out.append(list(lexer))
        except ValueError:  # an unbalanced quote in an inline span: plain words
            out.append(line.split())
    return out


def invocations(snippet: Snippet, program: str) -> list[list[str]]:
    """The arguments of each call of `program` in the snippet.

    A call starts a line or follows a separator (`&&`, `|`, ...), after any `VAR=value`
    words; `ExecStart=/path/to/kgbuild` (a systemd unit) counts as a call too.
    """
    calls = []
    for tokens in shell_lines(snippet):
        at_start = True
        for i, token in enumerate(tokens):
            if token in SEPARATORS:
                at_start = True
                continue
            if not at_start:
                continue
            word = token.split("=", 1)[1] if re.match(r"^[A-Za-z_]\w*=", token) else token
            if word == program or word.endswith("/" + program):
                calls.append(tokens[i + 1 :])
                at_start = False
            elif word == token or snippet.lang == "ini":  # another command, or a setting
                at_start = False
    return calls


# The CLI is read through the click API (commands, params, opts), which typer builds on
# (recent typer versions vendor their own copy of click, so no isinstance checks).
def _option_names(command) -> set[str]:
    names = {"--help"}
    for param in command.params:
        if param.param_type_name == "option":
            names.update(param.opts)
            names.update(param.secondary_opts)
    return names


def _subcommands(command) -> dict:
    return getattr(command, "commands", None) or {}


def command_problems(snippet: Snippet, cli) -> list[str]:
    """What in the snippet's `kgbuild ...` lines is not a command or option of `cli`."""
    problems = []
    for args in invocations(snippet, "kgbuild"):
        problems += _check_invocation(snippet.where, args, cli)
    return problems


def _check_invocation(where: str, args: list[str], command) -> list[str]:
    shown = "kgbuild " + " ".join(args)
    problems = []
    path = ["kgbuild"]
    for arg in args:
        if arg in SEPARATORS:
            break
        if arg == "..." or arg.startswith("<"):  # an ellipsis or a placeholder: not checkable
            break
        if arg.startswith("--") or re.fullmatch(r"-[A-Za-z]", arg):
            name = arg.split("=", 1)[0]
            if name not in _option_names(command):
                problems.append(f"{where}: `{shown}`: {' '.join(path)} has no option {name}")
        elif _subcommands(command):
            sub = _subcommands(command).get(arg)
            if sub is None:
                problems.append(f"{where}: `{shown}`: no command {' '.join(path)} {arg}")
                break
            command = sub
            path.append(arg)
    return problems


def makefile_targets(makefile: Path = REPO / "Makefile") -> set[str]:
    text = makefile.read_text(encoding="utf-8")
    targets = set()
    for m in MAKE_RULE.finditer(text):
        targets.update(m.group(1).split())
    return targets


def make_problems(snippet: Snippet, targets: set[str]) -> list[str]:
    problems = []
    for args in invocations(snippet, "make"):
        for arg in args:
            if arg in SEPARATORS:
                break
            if arg.startswith("-") or "=" in arg:  # an option or a variable
                continue
            if arg not in targets:
                problems.append(f"{snippet.where}: `make {arg}`: no such Makefile target")
    return problems


def schema_problems(snippet: Snippet) -> list[str]:
    if snippet.lang != "json" or '"entity_types"' not in snippet.text:
        return []
    try:
        Schema.model_validate(json.loads(snippet.text))
    except (ValueError, TypeError) as exc:
        return [f"{snippet.where}: schema does not load: {exc}"]
    return []


@pytest.fixture(scope="module")
def cli():
    return typer.main.get_command(app)


def test_the_options_read_are_those_help_prints(cli):
    commands = _subcommands(cli)
    assert {"ingest", "extract", "query", "export", "view", "train", "eval", "watch"} <= set(
        commands
    )
    assert {"--store", "-s", "--prune", "--relation-labels"} <= _option_names(commands["ingest"])
    runner = CliRunner()
    for name, command in commands.items():
        result = runner.invoke(app, [name, "--help"], terminal_width=200)
        assert result.exit_code == 0, result.output
        for option in _option_names(command):
            assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", result.output), (
                f"kgbuild {name} --help does not show {option}"
            )


@pytest.fixture(scope="module")
def pages() -> list[Page]:
    return [parse_page(p) for p in PAGES]


# -- the pages ---------------------------------------------------------------------------


def test_the_docs_pages_exist_and_the_readme_links_each():
    names = {p.name for p in PAGES}
    assert {"README.md", "performance.md", "model.md", "scale-out.md", "backends.md"} <= names
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for page in PAGES[1:]:
        assert f"(docs/{page.name}" in readme, f"README.md does not link docs/{page.name}"


def test_the_readme_fits_a_newcomer():
    lines = (REPO / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines <= 360, f"README.md has {lines} lines; move details into docs/"


def test_relative_links_point_to_existing_files(pages):
    problems = [p for page in pages for p in link_problems(page)]
    assert not problems, "\n".join(problems)


def test_kgbuild_commands_shown_are_real(pages, cli):
    snippets = [s for page in pages for s in [*page.blocks, *page.spans()]]
    shown = [call for s in snippets for call in invocations(s, "kgbuild")]
    assert len(shown) >= 40  # the pages do show commands; the parser finds them
    problems = [p for s in snippets for p in command_problems(s, cli)]
    assert not problems, "\n".join(problems)


def test_make_targets_shown_exist(pages):
    targets = makefile_targets()
    assert {"demo", "test"} <= targets
    snippets = [s for page in pages for s in [*page.blocks, *page.spans()]]
    problems = [p for s in snippets for p in make_problems(s, targets)]
    assert not problems, "\n".join(problems)


def test_schemas_shown_load(pages):
    shown = [s for page in pages for s in page.blocks if s.lang == "json"]
    assert any('"entity_types"' in s.text for s in shown)
    problems = [p for s in shown for p in schema_problems(s)]
    assert not problems, "\n".join(problems)


# -- the checkers, on made-up pages --------------------------------------------------------

MADE_UP = """# A page

## Install it

```bash
kgbuild ingest docs/ --store graph.json --no-such-option 3   # a wrong option
KGBUILD_BACKEND=torch kgbuild ingest docs/ -s graph.json -e "person" --prune \\
    --relation-labels=hybrid
echo "kgbuild run (pid 4242)"                               # not a call
ExecStart=/srv/.venv/bin/kgbuild watch /srv/docs --interval 300 --frequency 3
.venv/bin/kgbuild frobnicate graph.json                    # a wrong command
cd /srv && kgbuild --verbose query graph.json top_entities -p limit=3 | head
make demo && make deploy
```

Run `kgbuild view graph.json --entity "Nokia" --hopz 2` or `kgbuild --verbose ...`;
`make test PYTEST_ARGS="-x -k cli"` works. See [here](no/such/file.md),
[the model](docs/model.md#relation-labels), [nowhere](#no-such-heading),
[this](#install-it) and [the web](https://example.org/x).

```python
import kgbuild
kgbuild.build("docs/", store="graph.json")
```

```json
{"entity_types": ["person"], "relation_types": {"works for": {"head": ["robot"]}}}
```
"""


@pytest.fixture(scope="module")
def made_up() -> Page:
    return parse_page(REPO / "made-up.md", MADE_UP)


def test_a_wrong_option_or_command_is_reported(made_up, cli):
    snippets = [*made_up.blocks, *made_up.spans()]
    problems = [p for s in snippets for p in command_problems(s, cli)]
    assert len(problems) == 4, problems
    assert "made-up.md:5" in problems[0] and "has no option --no-such-option" in problems[0]
    assert "kgbuild watch has no option --frequency" in problems[1]
    assert "no command kgbuild frobnicate" in problems[2]
    assert "kgbuild view has no option --hopz" in problems[3]


def test_a_missing_make_target_is_reported(made_up):
    snippets = [*made_up.blocks, *made_up.spans()]
    problems = [p for s in snippets for p in make_problems(s, {"demo", "test"})]
    assert problems == ["made-up.md:5: `make deploy`: no such Makefile target"]


def test_makefile_targets_are_read_from_its_rules(tmp_path):
    makefile = tmp_path / "Makefile"
    makefile.write_text(
        "X := 1\nY ?= 2\n.PHONY: a b\na b: $(X)\n\techo\n$(VENV)/.stamp: pyproject.toml\n"
    )
    assert {"a", "b", ".PHONY", "$(VENV)/.stamp"} <= makefile_targets(makefile)
    assert not {"X", "Y"} & makefile_targets(makefile)


def test_a_broken_link_or_anchor_is_reported(made_up):
    problems = link_problems(made_up)
    assert len(problems) == 2, problems
    assert "no/such/file.md: no such file" in problems[0]
    assert "no heading #no-such-heading" in problems[1]


def test_a_schema_that_does_not_load_is_reported(made_up):
    problems = [p for s in made_up.blocks for p in schema_problems(s)]
    assert len(problems) == 1 and "robot" in problems[0], problems
