"""The log lines docs/troubleshooting.md quotes are lines ikesrv writes.

Each line of a ``log`` block in the guide must (1) come from a logger ikesrv has, (2) match
the format string of one of ikesrv's logging calls as a whole (its placeholders standing
for anything), and (3) use only words that ikesrv's source spells (string literals,
registry names such as IKE_AUTH) or that come from outside it (errno names and texts,
the kernel's netlink messages). A reworded message, or a line nobody logs, fails here.
"""

from __future__ import annotations

import ast
import errno
import functools
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "troubleshooting.md"
SOURCES = sorted((ROOT / "ikesrv").rglob("*.py"))
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# texts from outside ikesrv that its messages carry: netlink extended acks of the kernel
EXTERNAL = {"Requested", "type", "found", "AEAD", "algorithm"}
EXTERNAL_PHRASES = {"Requested type not found", "Requested AEAD algorithm not found"}
# names from the configurations of the runs the lines were copied from (connections, pools)
CONFIG_NAMES = {"rw", "rw-eap", "rw-psk", "v1"}


def quoted_lines() -> list[str]:
    lines, inside = [], False
    for line in GUIDE.read_text().splitlines():
        if line.startswith("```"):
            inside = line.strip() == "```log"
            continue
        if inside and line.strip():
            lines.append(line)
    return lines


def _calls():
    for path in SOURCES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            yield path, node


@functools.cache
def log_formats() -> tuple[str, ...]:
    """The format strings of every logging call in ikesrv/ (first line of each)."""
    out = []
    for _, node in _calls():
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("debug", "info", "warning", "error", "exception",
                                       "log")):
            continue
        for arg in node.args:
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and "%" in arg.value:
                out.append(arg.value.split("\n")[0])
                break
    return tuple(out)


def _format_regex(fmt: str) -> re.Pattern:
    parts = re.split(r"(%[-#0-9.]*[sdrxfi]|%%)", fmt)
    pattern = "".join("(.+?)" if p.startswith("%") and p != "%%" else
                      ("%" if p == "%%" else re.escape(p)) for p in parts)
    return re.compile(pattern + "$")


def source_words() -> set[str]:
    words: set[str] = set()
    for _, node in _calls():
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            words |= set(re.findall(r"[A-Za-z][A-Za-z_-]*", node.value))
        elif isinstance(node, (ast.Name, ast.Attribute)):
            name = node.id if isinstance(node, ast.Name) else node.attr
            words.add(name)
        elif isinstance(node, ast.ClassDef):
            words.add(node.name)
    words |= set(errno.errorcode.values())
    for code in errno.errorcode:
        words |= set(re.findall(r"[A-Za-z][A-Za-z_-]*", os.strerror(code)))
    return words | EXTERNAL | CONFIG_NAMES


@functools.cache
def logger_names() -> frozenset[str]:
    names = set()
    for _, node in _calls():
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "getLogger" and node.args
                and isinstance(node.args[0], ast.Constant)):
            names.add(node.args[0].value)
    return frozenset(names)


def _literal_words(message: str) -> list[str]:
    """Words of a message that are not data: no digits, quotes, addresses, paths, ids."""
    out = []
    for token in message.split():
        bare = token.strip("()[],:;.?")
        if (not bare or any(c.isdigit() for c in bare) or "'" in token or "/" in bare
                or "@" in bare or "." in bare or "=" in bare):
            continue
        out += re.findall(r"[A-Za-z][A-Za-z_-]*", bare)
    return out


@functools.cache
def source_phrases() -> tuple[tuple[str, ...], ...]:
    """The word sequences of every literal piece of text in ikesrv/ (string constants,
    split where f-strings and %-formats put values), plus errno texts."""
    pieces: list[str] = []
    for _, node in _calls():
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            pieces += re.split(r"%[-#0-9.]*[sdrxfi]", node.value)
    pieces += [os.strerror(code) for code in errno.errorcode] + list(EXTERNAL_PHRASES)
    return tuple(tuple(_words(p)) for p in pieces if p.strip())


def _words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z][A-Za-z_-]*", text)


def _runs(text: str) -> list[list[str]]:
    """Runs of three or more literal words (data tokens split them)."""
    runs, current = [], []
    for token in text.split():
        bare = token.strip("()[],:;.?")
        if (not bare or any(c.isdigit() for c in bare) or "'" in token or "/" in bare
                or "@" in bare or "." in bare or "=" in bare or bare in CONFIG_NAMES):
            if len(current) >= 3:
                runs.append(current)
            current = []
            continue
        current += _words(bare)
    if len(current) >= 3:
        runs.append(current)
    return runs


def _in_phrase(piece: tuple[str, ...]) -> bool:
    n = len(piece)
    return any(seq[i:i + n] == piece for seq in source_phrases()
               for i in range(len(seq) - n + 1))


@functools.cache
def _registry_names() -> frozenset[str]:
    """Enum member names (IKE_AUTH, INVALID_ID_INFORMATION): logged as names."""
    tree = ast.parse((ROOT / "ikesrv" / "constants.py").read_text(encoding="utf-8"))
    return frozenset(t.id for node in ast.walk(tree) if isinstance(node, ast.Assign)
                     for t in node.targets if isinstance(t, ast.Name))


@functools.cache
def _edges() -> tuple[frozenset[str], frozenset[str]]:
    firsts = frozenset(seq[0] for seq in source_phrases() if seq)
    lasts = frozenset(seq[-1] for seq in source_phrases() if seq)
    return firsts, lasts


def _single_word_piece(word: str, first: bool, last: bool) -> bool:
    """One word between two literals: a registry or errno name, or a literal's last word
    (where a value follows) that is also a literal's first word (where one ended)."""
    if word in _registry_names() or word in errno.errorcode.values():
        return True
    firsts, lasts = _edges()
    return (first or word in firsts) and (last or word in lasts)


def _phrase_known(run: list[str]) -> bool:
    """The run is made of pieces of ikesrv's literal text, each at least two words long
    (a message is assembled from several literals: a format, a reason, a name), or a
    single word where one literal meets another."""
    words = tuple(run)
    n = len(words)
    ok = [True] + [False] * n
    for j in range(1, n + 1):
        for i in range(j):
            if not ok[i]:
                continue
            piece = words[i:j]
            if (len(piece) >= 2 and _in_phrase(piece)) or (
                    len(piece) == 1 and _single_word_piece(piece[0], i == 0, j == n)):
                ok[j] = True
                break
    return ok[n]


LINES = quoted_lines()


def test_the_guide_quotes_log_lines():
    assert len(LINES) >= 20


@pytest.mark.parametrize("line", LINES)
def test_quoted_line_is_one_ikesrv_writes(line):
    m = re.match(r"^(\w+) ([\w.]+)(\[\d+\])?: (.*)$", line)
    assert m, f"not 'LEVEL logger: message': {line}"
    level, logger, _, message = m.groups()
    assert level in LEVELS
    assert logger in logger_names() or logger.rsplit(".", 1)[0] in logger_names() or \
        logger in {"ikesrv.worker", "ikesrv.ikev2", "ikesrv.ikev1", "ikesrv.core"}, logger
    matches = [m for f in log_formats() for m in [_format_regex(f).match(message)] if m]
    assert matches, f"no logging call of ikesrv writes this: {message}"
    unknown = [w for w in _literal_words(message) if w not in SOURCE_WORDS]
    assert not unknown, f"words ikesrv's source never spells: {unknown} in {message}"
    # what a format's placeholders stand for comes from elsewhere in ikesrv (a reason
    # raised with the error, a description): its phrases must be spelt there as well
    def explained(m: re.Match) -> bool:
        return all(_phrase_known(run) for text in m.groups() for run in _runs(text))
    assert any(explained(m) for m in matches), \
        f"phrases in this line that ikesrv's source never writes: {message}"


SOURCE_WORDS = source_words()
