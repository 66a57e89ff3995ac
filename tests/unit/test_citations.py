"""Every citation in the repository points at a section that a clone can open.

Code, docstrings, help texts, the expectation table and the docs cite facts as
``docs/<name>.md §N.M``. A bare ``§N.M`` means the document it stands in when that is one
of the numbered references under ``docs/``, and ``docs/protocol.md`` everywhere else
(docs/protocol.md says so in its first paragraph). The design team's documents
(PROTOCOL.md, ARCHITECTURE.md, STYLE.md, BLEAK_BACKENDS.md, BLUEZ_DBUS.md) are not in
the repository, so nothing may cite them.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DOC = "docs/protocol.md"
OUTSIDE_DOCS = ("PROTOCOL.md", "ARCHITECTURE.md", "STYLE.md", "BLEAK_BACKENDS.md", "BLUEZ_DBUS.md")
TEXT_SUFFIXES = {".py", ".md", ".yaml", ".yml", ".toml", ".ini", ".cfg", ".txt", ""}
# A doc named in the text, an outside specification (its sections are not ours to check),
# or a section sign with its number (§4, §5.3, §10.3.7).
_TOKEN = re.compile(
    r"(?P<doc>\bdocs/[\w.-]+\.md)"
    r"|(?P<outside>\bVol\.? ?\d+,? Part [A-Z]+|\bRFC ?\d+)"
    r"|§\s?(?P<section>\d+(?:\.\d+)*)"
)
_HEADING = re.compile(r"^#{1,6}\s+(\d+(?:\.\d+)*)\.?\s")


@dataclass(frozen=True)
class Citation:
    file: str
    line: int
    doc: str
    section: str | None  # None: the document as a whole

    def __str__(self) -> str:
        where = f"{self.doc} §{self.section}" if self.section else self.doc
        return f"{self.file}:{self.line}: {where}"


def tracked_text_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    paths = [ROOT / name for name in listed if not name.startswith("tests/data/")]
    return [p for p in paths if p.suffix in TEXT_SUFFIXES and p.is_file()]


def sections_of(doc: Path) -> set[str]:
    """The numbers of a document's numbered headings (``## 5. …``, ``### 5.3 …``)."""
    found: set[str] = set()
    for line in doc.read_text(encoding="utf-8").splitlines():
        match = _HEADING.match(line)
        if match:
            found.add(match.group(1))
    return found


def citations_in(text: str, file: str, *, numbered: bool = False) -> list[Citation]:
    """Every citation of ``text``: a § belongs to the last doc named before it on its line.

    ``numbered``: ``file`` is a document with numbered sections, which a bare § then means.
    """
    own = file if numbered else DEFAULT_DOC
    out: list[Citation] = []
    for number, line in enumerate(text.splitlines(), start=1):
        current: str | None = own
        named_alone: str | None = None
        for match in _TOKEN.finditer(line):
            if match.group("outside"):
                current = named_alone = None
            elif match.group("doc"):
                if named_alone is not None:
                    out.append(Citation(file, number, named_alone, None))
                current = named_alone = match.group("doc")
            elif current is not None:
                out.append(Citation(file, number, current, match.group("section")))
                named_alone = None
        if named_alone is not None:
            out.append(Citation(file, number, named_alone, None))
    return out


def broken(citations: list[Citation], root: Path) -> list[Citation]:
    cache: dict[str, set[str] | None] = {}
    bad: list[Citation] = []
    for citation in citations:
        if citation.doc not in cache:
            path = root / citation.doc
            cache[citation.doc] = sections_of(path) if path.is_file() else None
        sections = cache[citation.doc]
        if sections is None or (citation.section is not None and citation.section not in sections):
            bad.append(citation)
    return bad


def all_citations() -> list[Citation]:
    found: list[Citation] = []
    for path in tracked_text_files():
        if path.name == Path(__file__).name:  # its examples cite missing sections on purpose
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        numbered = path.suffix == ".md" and bool(sections_of(path))
        found += citations_in(text, path.relative_to(ROOT).as_posix(), numbered=numbered)
    return found


def test_the_repository_cites_its_references_often() -> None:
    cited = {c.doc for c in all_citations()}
    assert {"docs/protocol.md", "docs/architecture.md"} <= cited
    assert len(all_citations()) > 300


def test_every_citation_names_a_section_that_exists() -> None:
    bad = broken(all_citations(), ROOT)
    assert not bad, "citations of missing documents or sections:\n" + "\n".join(map(str, bad))


@pytest.mark.parametrize("name", OUTSIDE_DOCS)
def test_nothing_cites_a_document_a_clone_does_not_have(name: str) -> None:
    hits = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in tracked_text_files()
        if path.name != Path(__file__).name
        for number, line in enumerate(path.read_text("utf-8", errors="replace").splitlines(), 1)
        if name in line
    ]
    assert not hits, f"{name} is not in the repository, yet cited at: {hits}"


def test_the_checker_finds_a_missing_section_and_a_missing_document(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "ref.md").write_text("# Ref\n## 1. One\n### 1.2 Two\n", "utf-8")
    text = (
        "see docs/ref.md §1.2 and §1.3\n"  # §1.3 is missing; both belong to ref.md
        "docs/nowhere.md\n"  # a missing document
        "§1\n"  # bare: the default document, which this tree lacks
        "Bluetooth Core Vol 3, Part F §3.2.8\n"  # an outside specification: not checked
    )
    bad = broken(citations_in(text, "pkg/mod.py"), tmp_path)
    assert [str(c) for c in bad] == [
        "pkg/mod.py:1: docs/ref.md §1.3",
        "pkg/mod.py:2: docs/nowhere.md",
        "pkg/mod.py:3: docs/protocol.md §1",
    ]


def test_a_bare_section_in_a_reference_document_means_that_document() -> None:
    cites = citations_in(
        "as §3 says, and docs/protocol.md §5.3", "docs/architecture.md", numbered=True
    )
    assert [(c.doc, c.section) for c in cites] == [
        ("docs/architecture.md", "3"),
        ("docs/protocol.md", "5.3"),
    ]
