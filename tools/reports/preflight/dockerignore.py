"""Docker's `.dockerignore` semantics, ported from the code Docker runs, not approximated with fnmatch.

Sources (moby/patternmatcher, commit 5a6d842, the module BuildKit and the Docker CLI use):
- ``ignorefile.ReadAll``: UTF-8 BOM stripped; lines starting with ``#`` are comments (before trimming); each line is
  trimmed; ``!`` marks an exception (re-include); the pattern is ``filepath.Clean``-ed and one leading ``/`` is
  dropped, so ``/foo`` and ``foo`` are the same.
- ``patternmatcher.New`` / ``Pattern.compile``: ``*`` matches any run of non-separator characters, ``?`` one
  non-separator character, ``**`` any number of directories (zero included; a leading ``**`` makes ``**/foo`` match
  ``foo``), ``[...]`` character classes, ``\\`` escapes the next character; other regexp metacharacters are literal.
- ``MatchesOrParentMatches``: patterns apply in order and the last one that matches wins (an exception re-includes
  only what an earlier pattern excluded); a pattern also matches a path when it matches one of its parent
  directories, so excluding ``docs`` excludes ``docs/README.md``.
Docker documents the same rules at https://docs.docker.com/build/concepts/context/#dockerignore-files .
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

# Characters that mean something in a regexp but nothing in a filepath pattern (moby's `shouldEscape`).
_ESCAPE = frozenset(".+()|{}$")


def go_clean(path: str) -> str:
    """Go's `path.Clean` (lexical: collapse `//`, drop `.`, resolve `..`; keeps one leading `/`; "" -> ".")."""
    if not path:
        return "."
    rooted = path.startswith("/")
    out: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if out and out[-1] != "..":
                out.pop()
            elif not rooted:
                out.append("..")
            continue
        out.append(part)
    cleaned = "/".join(out)
    return ("/" + cleaned) if rooted else (cleaned or ".")


def read_patterns(text: str) -> list[str]:
    """``ignorefile.ReadAll``: the patterns of a .dockerignore file, in order, exceptions prefixed with ``!``."""
    text = text.removeprefix("\ufeff")
    patterns: list[str] = []
    for raw in text.splitlines():
        if raw.startswith("#"):
            continue
        pattern = raw.strip()
        if not pattern:
            continue
        invert = pattern.startswith("!")
        if invert:
            pattern = pattern[1:].strip()
        if pattern:
            pattern = go_clean(pattern)
            if len(pattern) > 1 and pattern.startswith("/"):
                pattern = pattern[1:]
        patterns.append(("!" if invert else "") + pattern)
    return patterns


@dataclass(frozen=True)
class _Pattern:
    text: str
    exclusion: bool
    kind: str  # exact | prefix | suffix | regexp
    regexp: re.Pattern[str] | None

    def match(self, path: str) -> bool:
        if self.kind == "exact":
            return path == self.text
        if self.kind == "prefix":
            return path.startswith(self.text[:-2])
        if self.kind == "suffix":
            suffix = self.text[2:]
            return path.endswith(suffix) or (suffix.startswith("/") and path == suffix[1:])
        assert self.regexp is not None
        return self.regexp.match(path) is not None


def _compile(text: str, exclusion: bool) -> _Pattern:
    """``Pattern.compile`` with `/` as the separator."""
    regex = "^"
    kind = "exact"
    i, n = 0, len(text)
    first = True
    while i < n:
        ch = text[i]
        i += 1
        if ch == "*":
            if i < n and text[i] == "*":
                i += 1
                if i < n and text[i] == "/":
                    i += 1
                if i >= n:
                    if kind == "exact":
                        kind = "prefix"
                    else:
                        regex += ".*"
                        kind = "regexp"
                else:
                    regex += "(.*/)?"
                    kind = "regexp"
                if first:
                    kind = "suffix"
            else:
                regex += "[^/]*"
                kind = "regexp"
        elif ch == "?":
            regex += "[^/]"
            kind = "regexp"
        elif ch in _ESCAPE:
            regex += "\\" + ch
        elif ch == "\\":
            if i < n:
                regex += "\\" + text[i]
                i += 1
                kind = "regexp"
            else:
                regex += "\\"
        elif ch in "[]":
            regex += ch
            kind = "regexp"
        else:
            regex += ch
        first = False
    compiled = None
    if kind == "regexp":
        try:
            compiled = re.compile(regex + "$", re.DOTALL)
        except re.error as err:
            raise ValueError(f"bad .dockerignore pattern {text!r}: {err}") from None
    return _Pattern(text=text, exclusion=exclusion, kind=kind, regexp=compiled)


class DockerIgnore:
    """A compiled .dockerignore: :meth:`excluded` answers whether Docker leaves a context path out of the build."""

    def __init__(self, patterns: list[str]) -> None:
        self.patterns: list[_Pattern] = []
        for p in patterns:
            p = p.strip()
            if not p:
                continue
            p = go_clean(p)
            exclusion = p.startswith("!")
            if exclusion:
                if len(p) == 1:
                    raise ValueError('illegal exclusion pattern: "!"')
                p = p[1:]
            self.patterns.append(_compile(p, exclusion))

    @classmethod
    def from_file(cls, path: Path) -> DockerIgnore:
        return cls(read_patterns(path.read_text()) if path.is_file() else [])

    def excluded(self, path: str) -> bool:
        """``MatchesOrParentMatches`` for a slash-separated path relative to the context root."""
        return self.deciding_pattern(path) is not None

    def deciding_pattern(self, path: str) -> str | None:
        """The pattern that leaves ``path`` excluded (the last exclusion that applied), None if it is sent."""
        if path in ("", "."):
            return None  # the context root itself is never excluded
        parent = go_clean(path[: path.rfind("/") + 1]) if "/" in path else "."
        parents = parent.split("/") if parent != "." else []
        matched = False
        decided: str | None = None
        for pattern in self.patterns:
            # An inclusion cannot change an already excluded path, nor an exception a path not excluded yet.
            if pattern.exclusion != matched:
                continue
            hit = pattern.match(path)
            if not hit:
                hit = any(pattern.match("/".join(parents[: i + 1])) for i in range(len(parents)))
            if hit:
                matched = not pattern.exclusion
                decided = pattern.text if matched else None
        return decided


def included_files(context: Path, ignore: DockerIgnore) -> set[str]:
    """Every file and directory of ``context`` (relative, slash-separated) that Docker sends to the builder.

    A directory is sent when it is not excluded itself or when something inside it is (BuildKit's fsutil walker
    keeps the parents of every included path)."""
    sent: set[str] = set()
    for p in sorted(context.rglob("*")):
        rel = p.relative_to(context).as_posix()
        if p.is_dir():
            if not ignore.excluded(rel):
                sent.add(rel)
            continue
        if not ignore.excluded(rel):
            sent.add(rel)
            parts = rel.split("/")
            sent.update("/".join(parts[:i]) for i in range(1, len(parts)))
    return sent
