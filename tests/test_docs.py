"""The documentation stays findable and true: a short README, links that resolve, a generated CLI page."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
README_MAX_LINES = 250
PAGES = [REPO / "README.md", *sorted(DOCS.glob("*.md"))]

_FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.M | re.S)
_INLINE_CODE = re.compile(r"`+[^`\n]*`+")
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", re.M)


def _prose(text: str) -> str:
    """The text without code (fenced blocks, inline code): links in code are not links."""
    return _INLINE_CODE.sub("", _FENCE.sub("", text))


def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors of a Markdown file (lowercase, punctuation dropped, spaces to hyphens)."""
    seen: dict[str, int] = {}
    out = set()
    for title in _HEADING.findall(_FENCE.sub("", path.read_text())):
        title = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", title)  # a link in a heading: its text
        slug = re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def _links(path: Path) -> list[str]:
    return _LINK.findall(_prose(path.read_text()))


def test_readme_is_short():
    n = len((REPO / "README.md").read_text().splitlines())
    assert n <= README_MAX_LINES, f"README.md has {n} lines (at most {README_MAX_LINES}): move detail into docs/"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_point_at_existing_files(page):
    broken = []
    for target in _links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # https:, mailto: ...
            continue
        file, _, anchor = target.partition("#")
        dest = (page.parent / file).resolve() if file else page
        if not dest.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(f"{target} (no heading with that anchor)")
    assert not broken, f"{page.relative_to(REPO)}: broken links: {broken}"


def test_every_docs_page_is_reachable_from_the_index():
    index = DOCS / "index.md"
    linked = {(DOCS / t.partition("#")[0]).resolve() for t in _links(index) if t.partition("#")[0]}
    orphans = [p.name for p in DOCS.glob("*.md") if p != index and p.resolve() not in linked]
    assert not orphans, f"docs pages not linked from docs/index.md: {orphans}"


def test_readme_links_into_docs():
    assert any(t.startswith("docs/") for t in _links(REPO / "README.md"))


def test_ci_runs_the_readme_test_command():
    """.ci/run must run the README's test command exactly as written there."""
    lines = (REPO / ".ci" / "run").read_text().splitlines()
    # "|| exit 1": set -e ignores a failure inside an && list, so the line says it itself
    commands = [line.strip().removesuffix("|| exit 1").strip() for line in lines
                if line.strip().startswith("python3 -m venv")]
    assert commands, ".ci/run runs no install + test command"
    readme = (REPO / "README.md").read_text().splitlines()
    assert all(c in (line.strip() for line in readme) for c in commands)


def test_cli_reference_is_generated_from_the_parsers(capsys):
    spec = importlib.util.spec_from_file_location("make_cli_docs", REPO / "scripts" / "make_cli_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    status = module.main(["--check"])
    assert status == 0, "docs/cli.md is out of date: run python scripts/make_cli_docs.py\n" + capsys.readouterr().out
