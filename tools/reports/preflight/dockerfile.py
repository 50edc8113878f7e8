"""Just enough of the Dockerfile grammar to know what a build reads from its context.

Follows the Dockerfile reference (https://docs.docker.com/reference/dockerfile/): the ``# escape=`` parser directive,
line continuations with the escape character, comment lines, heredocs (``<<EOF`` bodies are not instructions and
heredoc sources are not context files), the exec (JSON) and shell forms of COPY/ADD, their flags (``--from`` reads
another stage or image, not the context), ARG/ENV substitution in sources, URL and git sources of ADD, and
``RUN --mount=type=bind`` (which reads the context when it has no ``from``).
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field

_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_HEREDOC = re.compile(r"<<(-?)([\"']?)([A-Za-z_][A-Za-z0-9_]*)\2")
_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")


@dataclass(frozen=True)
class ContextSource:
    """A path an instruction reads from the build context."""

    instruction: str  # COPY, ADD or RUN
    line: int
    source: str  # as written, after variable substitution
    unresolved: tuple[str, ...] = ()  # variables with no value at that point


@dataclass
class Dockerfile:
    stages: list[str] = field(default_factory=list)  # stage names ("" for unnamed stages), in order
    sources: list[ContextSource] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(first physical line number, instruction) pairs, continuations joined, comments and heredoc bodies dropped."""
    lines = text.splitlines()
    escape = "\\"
    start = 0
    # Parser directives: only at the very top, before any comment that is not a directive or any instruction.
    for i, line in enumerate(lines):
        m = _DIRECTIVE.match(line.strip())
        if not m:
            break
        if m.group(1).lower() == "escape" and m.group(2) in ("\\", "`"):
            escape = m.group(2)
        start = i + 1
    out: list[tuple[int, str]] = []
    i = start
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            i += 1
            continue
        first = i + 1
        parts: list[str] = []
        while True:
            body = lines[i].rstrip()
            if body.endswith(escape):
                parts.append(body[: -len(escape)])
                i += 1
                # Comment and empty lines inside a continuation are skipped, not ends of the instruction.
                while i < len(lines) and (not lines[i].strip() or lines[i].strip().startswith("#")):
                    i += 1
                if i >= len(lines):
                    break
                continue
            parts.append(body)
            i += 1
            break
        instruction = " ".join(p.strip() for p in parts)
        out.append((first, instruction))
        for m in _HEREDOC.finditer(instruction):
            strip_tabs, word = m.group(1) == "-", m.group(3)
            while i < len(lines):
                body = lines[i].lstrip("\t") if strip_tabs else lines[i]
                i += 1
                if body == word:
                    break
    return out


def _substitute(value: str, env: dict[str, str]) -> tuple[str, tuple[str, ...]]:
    missing: list[str] = []

    def repl(m: re.Match[str]) -> str:
        name, op, word = m.group(1) or m.group(4), m.group(2) or "", m.group(3) or ""
        if name in env:
            return word if op.endswith("+") else env[name]
        if op.endswith("-"):
            return word
        if op.endswith("+"):
            return ""
        missing.append(name)
        return m.group(0)

    return _VAR.sub(repl, value), tuple(missing)


def _split_flags(args: str) -> tuple[dict[str, list[str]], str]:
    flags: dict[str, list[str]] = {}
    rest = args.strip()
    while rest.startswith("--"):
        token, _, rest = rest.partition(" ")
        name, _, value = token[2:].partition("=")
        flags.setdefault(name.lower(), []).append(value)
        rest = rest.strip()
    return flags, rest


def _operands(rest: str) -> list[str]:
    if rest.startswith("["):
        try:
            parsed = json.loads(rest)
            if isinstance(parsed, list) and all(isinstance(x, str) for x in parsed):
                return parsed
        except json.JSONDecodeError:
            pass
    try:
        return shlex.split(rest, posix=True)
    except ValueError:
        return rest.split()


def _is_remote(source: str) -> bool:
    return source.startswith(("http://", "https://", "git@", "git://", "ssh://")) or source.endswith(".git")


def parse(text: str) -> Dockerfile:
    result = Dockerfile()
    global_args: dict[str, str] = {}
    env: dict[str, str] = {}
    in_stage = False
    for line_no, instruction in _logical_lines(text):
        keyword, _, args = instruction.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            ops = _operands(_split_flags(args)[1])
            name = ops[2] if len(ops) >= 3 and ops[1].lower() == "as" else ""
            result.stages.append(name.lower())
            env = {}
            in_stage = True
            continue
        if keyword == "ARG":
            for op in _operands(args):
                key, eq, value = op.partition("=")
                if not in_stage:
                    if eq:
                        global_args[key] = value
                elif eq:
                    env[key] = _substitute(value, env)[0]
                elif key in global_args:
                    env[key] = global_args[key]
            continue
        if keyword == "ENV":
            ops = _operands(args)
            if len(ops) >= 2 and "=" not in ops[0]:
                env[ops[0]] = _substitute(" ".join(ops[1:]), env)[0]
            else:
                for op in ops:
                    key, _, value = op.partition("=")
                    env[key] = _substitute(value, env)[0]
            continue
        if keyword in ("COPY", "ADD"):
            flags, rest = _split_flags(args)
            if flags.get("from"):
                continue  # another stage or an image, not the build context
            ops = _operands(rest)
            if len(ops) < 2:
                result.errors.append(f"line {line_no}: {keyword} needs a source and a destination")
                continue
            for src in ops[:-1]:
                if src.startswith("<<") or (keyword == "ADD" and _is_remote(src)):
                    continue
                value, missing = _substitute(src, env)
                result.sources.append(ContextSource(keyword, line_no, value, missing))
            continue
        if keyword == "RUN":
            flags, _ = _split_flags(args)
            for mount in flags.get("mount", []):
                opts = dict(o.partition("=")[::2] for o in mount.split(","))
                if opts.get("type", "bind") == "bind" and not opts.get("from"):
                    src = opts.get("source", opts.get("src", "."))
                    value, missing = _substitute(src, env)
                    result.sources.append(ContextSource("RUN", line_no, value, missing))
    return result
