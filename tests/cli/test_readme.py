"""Every shell and Python example of README.md runs, and succeeds, in a fresh grid.

The convention, in README.md:

- Each fenced block opened with ```` ```sh ````, ```` ```console ```` (lines
  starting ``$ `` are the commands) or ```` ```python ```` is an example, run on
  its own: in a fresh working directory holding a grid made by
  ``gridfs init grid --vo gilda --site cern --se cern-se`` (``$GRIDFS_CONFIG``
  names it), with ``$HOME`` a fresh directory too, and bash's ``set -e -o
  pipefail``: every command must succeed. A ```` ```toml ```` block is a
  configuration file: it must load.
- An HTML comment just before the block (blank lines may separate them) can say
  what the block needs that the reader has anyway::

      <!-- readme-test: setup
      echo data > a.mpg
      gridfs cr a.mpg /grid/gilda/a.mpg
      -->

  Those shell lines run first, in the same shell (for a Python block: a shell of
  their own before it).
- ``<!-- readme-test: skip (REASON) -->`` just before a block leaves it out;
  REASON is required, and is meant for blocks that truly cannot run here (they
  install system packages, or are a synopsis rather than an example).

The blocks run with the ``gridfs`` of this source tree (``PYTHONPATH``), the
console script of the running interpreter's environment. A failure names the
block's line in README.md and the README line of the command that failed.
Mounts a block leaves under its directory are unmounted after it.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
README = ROOT / "README.md"
LANGUAGES = ("sh", "console", "python", "toml")
_FENCE = re.compile(r"^(?P<indent>\s*)```(?P<language>[\w-]*)\s*$")
_DIRECTIVE = re.compile(r"^\s*<!--\s*readme-test:\s*(?P<word>\S+)(?P<rest>.*)$")
_SKIP = re.compile(r"^\(\s*(?P<reason>\S.*)\)\s*-->\s*$")


@dataclasses.dataclass(frozen=True)
class Block:
    """One example of the README: where it starts, what it is, what it needs."""

    line: int  # of the opening fence, 1-based
    language: str
    body: list[tuple[int, str]]  # (README line, text)
    setup: list[tuple[int, str]]
    skip: str | None  # the reason


class ReadmeError(Exception):
    """The README breaks the convention above; the message names the line."""


def parse(text: str) -> list[Block]:
    """The fenced blocks of ``text`` in the languages tested, with their directives."""
    return _Reader(text.splitlines()).blocks()


class _Reader:
    """README lines read in order; directives wait (``pending``) for the next block."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.next = 0  # index of the next line; so the 1-based number of the line just read
        self.setup: list[tuple[int, str]] = []
        self.skip: str | None = None
        self.pending = 0  # the line of a directive waiting for its block

    def blocks(self) -> list[Block]:
        found = []
        while self.next < len(self.lines):
            line = self.lines[self.next]
            self.next += 1
            if directive := _DIRECTIVE.match(line):
                self._directive(directive["word"], directive["rest"].strip())
            elif fence := _FENCE.match(line):
                block = self._block(fence["language"], fence["indent"])
                if block is not None:
                    found.append(block)
            elif line.strip() and self.pending:
                break
        if self.pending:
            raise ReadmeError(f"README.md:{self.pending}: a directive not followed by a block")
        return found

    def _directive(self, word: str, rest: str) -> None:
        self.pending = self.pending or self.next
        if word == "skip" and (reason := _SKIP.match(rest)):
            self.skip = reason["reason"].strip()
        elif word == "setup" and not rest:
            self.setup = self._until("-->", self.pending, "the setup has no closing -->")
        else:
            raise ReadmeError(f"README.md:{self.next}: write skip (REASON) --> or setup")

    def _block(self, language: str, indent: str) -> Block | None:
        start = self.next
        body = self._until("```", start, "the block is never closed")
        body = [(n, text.removeprefix(indent)) for n, text in body]
        if language not in LANGUAGES and self.pending:
            raise ReadmeError(f"README.md:{self.pending}: a directive before an untested block")
        block = Block(start, language, body, self.setup, self.skip)
        self.setup, self.skip, self.pending = [], None, 0
        return block if language in LANGUAGES else None

    def _until(self, closing: str, start: int, complaint: str) -> list[tuple[int, str]]:
        """The lines up to ``closing`` (a line of its own), which is consumed."""
        taken = []
        while self.next < len(self.lines) and self.lines[self.next].strip() != closing:
            taken.append((self.next + 1, self.lines[self.next]))
            self.next += 1
        if self.next == len(self.lines):
            raise ReadmeError(f"README.md:{start}: {complaint}")
        self.next += 1
        return taken


def _script(lines: list[tuple[int, str]]) -> str:
    """Shell lines placed at their README line numbers, so that $LINENO is the README's."""
    out = ['set -e -o pipefail; PS4="+ README.md:\\${LINENO}: "; set -x']
    for number, text in lines:
        out += [""] * (number - len(out) - 1)
        out.append(text)
    return "\n".join(out) + "\n"


def _commands(block: Block) -> list[tuple[int, str]]:
    """The shell commands of a block: a console block's are its ``$ `` lines."""
    if block.language != "console":
        return block.body
    return [(n, text[2:]) for n, text in block.body if text.startswith("$ ")]


def _environment(work: Path, home: Path) -> dict[str, str]:
    bin_dir = str(Path(sys.executable).parent)
    return {
        **os.environ,
        "HOME": str(home),
        "PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "PYTHONPATH": f"{ROOT}:{os.environ['PYTHONPATH']}"
        if os.environ.get("PYTHONPATH")
        else str(ROOT),
        "GRIDFS_CONFIG": str(work / "grid" / "config.toml"),
    }


def _unmount_below(directory: Path) -> None:
    """Unmount what a failed block left mounted under ``directory`` (innermost first)."""
    with open("/proc/self/mounts") as mounts:
        points = [line.split()[1] for line in mounts]
    for point in sorted(points, key=len, reverse=True):
        path = point.encode().decode("unicode_escape")
        if path.startswith(f"{directory}/"):
            subprocess.run(["fusermount3", "-u", "-z", path], check=False, capture_output=True)


def _failure(block: Block, what: str, result: subprocess.CompletedProcess[str]) -> str:
    traced = [line for line in result.stderr.splitlines() if line.startswith("+ README.md:")]
    where = f"; the last command run: {traced[-1][2:]}" if traced else ""
    tail = "\n".join(result.stderr.splitlines()[-25:])
    return (
        f"README.md:{block.line}: the {block.language} block failed in {what} "
        f"(exit status {result.returncode}){where}\n"
        f"--- stdout (end)\n{result.stdout[-3000:]}\n--- stderr (end)\n{tail}"
    )


def _run(block: Block, tmp_path: Path) -> None:
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    # The README's tour starts in a clone, with the virtualenv in .venv.
    (work / ".venv").symlink_to(sys.prefix)
    env = _environment(work, home)
    config = env["GRIDFS_CONFIG"]
    init = ["gridfs", "--config", config, "init", "grid", "--vo", "gilda"]
    subprocess.run(
        [*init, "--site", "cern", "--se", "cern-se"],
        cwd=work,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    runs = []
    if block.language == "toml":
        example = work / f"README-{block.line}.toml"
        example.write_text("\n".join(text for _, text in block.body) + "\n")
        check = "import sys; from gridfs.config import load_config; load_config(sys.argv[1])"
        runs.append(("loading it", [sys.executable, "-c", check, str(example)]))
    elif block.language == "python":
        if block.setup:
            runs.append(("its setup", ["bash", "-c", _script(block.setup)]))
        code = "\n" * (block.line) + "\n".join(text for _, text in block.body)
        runs.append(("the block", [sys.executable, "-c", code]))
    else:
        runs.append(("the block", ["bash", "-c", _script(block.setup + _commands(block))]))
    try:
        for what, command in runs:
            result = subprocess.run(
                command,
                cwd=work,
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            if result.returncode != 0:
                pytest.fail(_failure(block, what, result), pytrace=False)
    finally:
        _unmount_below(tmp_path)


def _params() -> list[object]:
    params: list[object] = []
    for block in parse(README.read_text()):
        if block.skip is not None:
            continue
        text = "\n".join(t for _, t in block.setup + block.body)
        marks = [pytest.mark.mount] if "gridfs mount" in text else []
        params.append(pytest.param(block, id=f"README.md:{block.line}", marks=marks))
    return params


@pytest.mark.parametrize("block", _params())
def test_readme_example_runs(block: Block, tmp_path: Path) -> None:
    _run(block, tmp_path)


def test_the_readme_follows_the_convention() -> None:
    """Parsing succeeds (every directive in place, every block closed) and finds examples."""
    blocks = parse(README.read_text())
    assert len([b for b in blocks if b.skip is None]) >= 5
    assert all(b.skip for b in blocks if b.skip is not None)


def test_the_parser_reads_directives_and_refuses_misplaced_ones() -> None:
    text = (
        "intro\n<!-- readme-test: setup\necho hi > a\n-->\n\n```sh\ncat a\n```\n"
        "<!-- readme-test: skip (needs sudo) -->\n```console\n$ sudo true\nout\n```\n"
        "```text\nnot run\n```\n"
    )
    setup, skipped = parse(text)
    assert (setup.line, setup.setup, setup.body) == (6, [(3, "echo hi > a")], [(7, "cat a")])
    assert (skipped.skip, _commands(skipped)) == ("needs sudo", [(11, "sudo true")])
    assert _script(setup.setup + setup.body).splitlines()[2:7] == [
        "echo hi > a",
        "",
        "",
        "",
        "cat a",
    ]
    for bad in (
        "<!-- readme-test: skip -->\n```sh\ntrue\n```\n",
        "<!-- readme-test: skpi (x) -->\n```sh\ntrue\n```\n",
        "<!-- readme-test: skip (x) -->\ntext\n```sh\ntrue\n```\n",
        "<!-- readme-test: skip (x) -->\n```text\nx = 1\n```\n",
        "```sh\ntrue\n",
        "<!-- readme-test: setup\ntrue\n",
    ):
        with pytest.raises(ReadmeError, match=r"README.md:1:"):
            parse(bad)
