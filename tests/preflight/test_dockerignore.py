"""Docker's .dockerignore semantics: the examples of Docker's documentation and moby/patternmatcher's own table."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.reports.preflight.dockerignore import DockerIgnore, go_clean, included_files, read_patterns

# https://docs.docker.com/build/concepts/context/#dockerignore-files : (patterns, path, excluded)
DOCKER_DOCS_CASES: dict[tuple[str, ...], list[tuple[str, bool]]] = {
    ("*/temp*",): [("somedir/temporary.txt", True), ("somedir/temp", True), ("temporary.txt", False),
                   ("somedir/subdir/temporary.txt", False)],
    ("*/*/temp*",): [("somedir/subdir/temporary.txt", True), ("somedir/temporary.txt", False)],
    ("temp?",): [("tempa", True), ("tempb", True), ("temp", False), ("somedir/tempa", False)],
    ("**/*.go",): [("main.go", True), ("pkg/deep/er/file.go", True), ("pkg/file.gox", False)],
    ("*.md", "!README.md"): [("CHANGES.md", True), ("README.md", False),
                             ("docs/guide.md", False)],  # *.md does not cross a directory
    ("*.md", "!README*.md", "README-secret.md"): [("README-secret.md", True), ("README-public.md", False),
                                                  ("notes.md", True)],
    ("*.md", "README-secret.md", "!README*.md"): [("README-secret.md", False)],
    ("/foo/bar",): [("foo/bar", True)],
    ("foo/bar",): [("foo/bar/baz.txt", True)],  # excluding a directory excludes what is inside
    # aws-cdk-lib stages with the app's patterns plus `!Dockerfile`: only the root Dockerfile comes back.
    ("**/Dockerfile", "!Dockerfile"): [("Dockerfile", False), ("orders/Dockerfile", True)],
}
DOCKER_DOCS = [(list(patterns), path, excluded)
               for patterns, cases in DOCKER_DOCS_CASES.items() for path, excluded in cases]

# moby/patternmatcher patternmatcher_test.go TestMatches (commit 5a6d842), single patterns: (pattern, path, matches)
MOBY = [
    ('**', 'file', True),
    ('**', 'file/', True),
    ('**/', 'file', True),
    ('**/', 'file/', True),
    ('**', '/', True),
    ('**/', '/', True),
    ('**', 'dir/file', True),
    ('**/', 'dir/file', True),
    ('**', 'dir/file/', True),
    ('**/', 'dir/file/', True),
    ('**/**', 'dir/file', True),
    ('**/**', 'dir/file/', True),
    ('dir/**', 'dir/file', True),
    ('dir/**', 'dir/file/', True),
    ('dir/**', 'dir/dir2/file', True),
    ('dir/**', 'dir/dir2/file/', True),
    ('**/dir', 'dir', True),
    ('**/dir', 'dir/file', True),
    ('**/dir2/*', 'dir/dir2/file', True),
    ('**/dir2/*', 'dir/dir2/file/', True),
    ('**/dir2/**', 'dir/dir2/dir3/file', True),
    ('**/dir2/**', 'dir/dir2/dir3/file/', True),
    ('**file', 'file', True),
    ('**file', 'dir/file', True),
    ('**/file', 'dir/file', True),
    ('**file', 'dir/dir/file', True),
    ('**/file', 'dir/dir/file', True),
    ('**/file*', 'dir/dir/file', True),
    ('**/file*', 'dir/dir/file.txt', True),
    ('**/file*txt', 'dir/dir/file.txt', True),
    ('**/file*.txt', 'dir/dir/file.txt', True),
    ('**/file*.txt*', 'dir/dir/file.txt', True),
    ('**/**/*.txt', 'dir/dir/file.txt', True),
    ('**/**/*.txt2', 'dir/dir/file.txt', False),
    ('**/*.txt', 'file.txt', True),
    ('**/**/*.txt', 'file.txt', True),
    ('a**/*.txt', 'a/file.txt', True),
    ('a**/*.txt', 'a/dir/file.txt', True),
    ('a**/*.txt', 'a/dir/dir/file.txt', True),
    ('a/*.txt', 'a/dir/file.txt', False),
    ('a/*.txt', 'a/file.txt', True),
    ('a/*.txt**', 'a/file.txt', True),
    ('a[b-d]e', 'ae', False),
    ('a[b-d]e', 'ace', True),
    ('a[b-d]e', 'aae', False),
    ('a[^b-d]e', 'aze', True),
    ('.*', '.foo', True),
    ('.*', 'foo', False),
    ('abc.def', 'abcdef', False),
    ('abc.def', 'abc.def', True),
    ('abc.def', 'abcZdef', False),
    ('abc?def', 'abcZdef', True),
    ('abc?def', 'abcdef', False),
    ('a\\\\', 'a\\', True),
    ('**/foo/bar', 'foo/bar', True),
    ('**/foo/bar', 'dir/foo/bar', True),
    ('**/foo/bar', 'dir/dir2/foo/bar', True),
    ('abc/**', 'abc', False),
    ('abc/**', 'abc/def', True),
    ('abc/**', 'abc/def/ghi', True),
    ('**/.foo', '.foo', True),
    ('**/.foo', 'bar.foo', False),
    ('a(b)c/def', 'a(b)c/def', True),
    ('a(b)c/def', 'a(b)c/xyz', False),
    ('a.|)$(}+{bc', 'a.|)$(}+{bc', True),
    ('dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl',
     'dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl', True),
    ('dist/*.whl', 'dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl', True),
    ('a\\*b', 'a*b', True),
]


@pytest.mark.parametrize(("patterns", "path", "excluded"), DOCKER_DOCS)
def test_docker_documented_examples(patterns: list[str], path: str, excluded: bool) -> None:
    assert DockerIgnore(read_patterns("\n".join(patterns))).excluded(path) is excluded


@pytest.mark.parametrize(("pattern", "path", "matches"), MOBY)
def test_moby_patternmatcher_table(pattern: str, path: str, matches: bool) -> None:
    assert DockerIgnore([pattern]).excluded(path) is matches


@pytest.mark.parametrize(("patterns", "path", "excluded"), [
    (["**", "!util/docker/web"], "util/docker/web/foo", False),
    (["**", "!util/docker/web", "util/docker/web/foo"], "util/docker/web/foo", True),
    (["docs", "!docs/README.md"], "docs/README.md", False),
    (["docs/*", "!docs/README.md"], "docs/README.md", False),
    (["*.go", "!fileutils.go"], "fileutils.go", False),
    (["!fileutils.go", "*.go"], "fileutils.go", True),
])
def test_moby_exceptions_and_order(patterns: list[str], path: str, excluded: bool) -> None:
    assert DockerIgnore(patterns).excluded(path) is excluded


def test_ignore_file_syntax_comments_bom_spaces_and_leading_slash() -> None:
    text = "\ufeff# a comment\n  /build/  \n\n ! build/keep.txt \n#not/a/pattern\n./a/../b\n"
    assert read_patterns(text) == ["build", "!build/keep.txt", "b"]


def test_bad_patterns_are_refused_like_docker() -> None:
    with pytest.raises(ValueError, match="illegal exclusion"):
        DockerIgnore(["!"])
    with pytest.raises(ValueError, match=r"bad \.dockerignore pattern"):
        DockerIgnore(["a["])


def test_go_clean_matches_go_path_clean() -> None:
    assert [go_clean(p) for p in ("", "a//b/./c/..", "/../x", "../../y", "a/")] == [".", "a/b", "/x", "../../y", "a"]


def test_included_files_keeps_parents_of_re_included_files(tmp_path: Path) -> None:
    for rel in ("docs/README.md", "docs/other.md", "src/app.py", "src/tests/test_app.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    sent = included_files(tmp_path, DockerIgnore(["docs", "!docs/README.md", "**/tests"]))
    assert sent == {"docs", "docs/README.md", "src", "src/app.py"}
