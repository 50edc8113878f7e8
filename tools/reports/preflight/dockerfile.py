"""What a Dockerfile's build reads from its context, from BuildKit's own parser.

The grammar (parser directives such as ``# escape=``, line continuations, comments, heredocs, the exec (JSON) and
shell forms, instruction flags, line numbers) is parsed by the ``dockerfile`` package: Go bindings of
moby/buildkit's ``frontend/dockerfile/parser``, the parser ``docker build`` itself runs, so a Dockerfile is read here
exactly as the build reads it. What the parser leaves to BuildKit's frontend is done here, after
https://docs.docker.com/reference/dockerfile/: ARG/ENV scoping and substitution in sources (global ARGs reach a stage
only when re-declared in it), ``--from`` (another stage or image, not the context), URL and git sources of ADD,
heredoc sources (not context files) and ``RUN --mount=type=bind`` without ``from`` (which reads the context).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import dockerfile as buildkit

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


def _unquote(word: str) -> str:
    """A shell-form word without the quotes around it (BuildKit's word processing removes them)."""
    return word[1:-1] if len(word) >= 2 and word[0] == word[-1] and word[0] in "\"'" else word


def _flags(command: buildkit.Command) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for flag in command.flags:
        name, _, value = flag.removeprefix("--").partition("=")
        out.setdefault(name.lower(), []).append(value)
    return out


def _words(command: buildkit.Command) -> list[str]:
    return list(command.value) if command.json else [_unquote(v) for v in command.value]


def _is_remote(source: str) -> bool:
    return source.startswith(("http://", "https://", "git@", "git://", "ssh://")) or source.endswith(".git")


def parse(text: str) -> Dockerfile:
    result = Dockerfile()
    try:
        commands = buildkit.parse_string(text)
    except buildkit.GoParseError as err:
        result.errors.append(f"BuildKit's parser refuses it: {err}")
        return result
    global_args: dict[str, str] = {}
    env: dict[str, str] = {}
    in_stage = False
    for command in commands:
        keyword, line = command.cmd.upper(), command.start_line
        if keyword == "FROM":
            words = list(command.value)
            result.stages.append(words[2].lower() if len(words) >= 3 and words[1].lower() == "as" else "")
            env = {}
            in_stage = True
        elif keyword == "ARG":
            for word in command.value:
                key, eq, value = word.partition("=")
                if not in_stage:
                    if eq:
                        global_args[key] = _unquote(value)
                elif eq:
                    env[key] = _substitute(_unquote(value), env)[0]
                elif key in global_args:
                    env[key] = global_args[key]
        elif keyword == "ENV":
            pairs = list(command.value)  # key, value, key, value, ... (both the = and the legacy form)
            for key, value in zip(pairs[::2], pairs[1::2], strict=False):
                env[key] = _substitute(_unquote(value), env)[0]
        elif keyword in ("COPY", "ADD"):
            if _flags(command).get("from"):
                continue  # another stage or an image, not the build context
            words = _words(command)
            if len(words) < 2:
                result.errors.append(f"line {line}: {keyword} needs a source and a destination")
                continue
            for src in words[:-1]:
                if src.startswith("<<") or (keyword == "ADD" and _is_remote(src)):
                    continue  # a heredoc (its body is the source) or a remote source
                value, missing = _substitute(src, env)
                result.sources.append(ContextSource(keyword, line, value, missing))
        elif keyword == "RUN":
            for mount in _flags(command).get("mount", []):
                opts = dict(o.partition("=")[::2] for o in mount.split(","))
                if opts.get("type", "bind") == "bind" and not opts.get("from"):
                    value, missing = _substitute(opts.get("source", opts.get("src", ".")), env)
                    result.sources.append(ContextSource("RUN", line, value, missing))
    return result
