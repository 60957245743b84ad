"""The profiles as they were at a git revision, compiled without touching the working tree.

`git ls-tree` lists the blobs under profiles/, schemas/ and templates/ at the revision,
`git cat-file --batch` reads them into a temporary folder, and the ordinary pipeline
compiles that folder. The working tree, its index and its out/ are never written.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from compiler.diagnostics import CompileError, Diagnostic, Mark, UsageError
from compiler.model import Profile
from compiler.pipeline import INPUT_FOLDERS

_BLOB_MODES = ("100644", "100755")


@dataclass(frozen=True)
class Revision:
    """A git revision as the user named it, and the commit it stands for."""

    label: str
    commit: str | None  # None: the repository has no commit yet
    spec: str = ""  # what git calls it in `REV:path`; the label when empty

    @property
    def short(self) -> str:
        """`HEAD~1 (1a2b3c4)`, or the label alone when it is a commit id."""
        if self.commit is None:
            return f"{self.label} (no commits yet)"
        if self.commit.startswith(self.label):
            return self.commit[:12]
        return f"{self.label} ({self.commit[:7]})"


class GitError(Exception):
    """git failed; the message is git's own, first line."""


def _git(root: Path, *args: str, stdin: bytes | None = None) -> bytes:
    environ = {
        **os.environ,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_LITERAL_PATHSPECS": "1",  # a folder named `*` is a folder, not a glob
        "LC_ALL": "C",
    }
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args],
            input=stdin,
            capture_output=True,
            env=environ,
            check=False,
        )
    except OSError as exc:
        raise GitError(f"cannot run git: {exc.strerror}") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitError(message[0] if message else f"git {args[0]} failed")
    return done.stdout


def _usage(message: str, hint: str = "", where: str = "--base") -> UsageError:
    return UsageError([Diagnostic(Mark(where), message, hint)])


def _rev_parse(root: Path, name: str) -> str | None:
    try:
        return _git(root, "rev-parse", "--verify", "--quiet", f"{name}^{{commit}}").decode().strip()
    except GitError:
        return None


def git_prefix(root: Path) -> str:
    """Where `root` sits inside its git work tree (`''` or `config/`); an error outside git."""
    try:
        inside = _git(root, "rev-parse", "--is-inside-work-tree").decode().strip()
        prefix = _git(root, "rev-parse", "--show-prefix").decode().strip()
    except GitError as exc:
        raise _usage(
            f"{root.name or root} is not in a git repository ({exc})",
            "diff compares the profiles with a git revision; run it inside a clone",
            "timeoutc diff",
        ) from None
    if inside != "true":
        raise _usage(f"{root} is not in a git work tree", where="timeoutc diff")
    return prefix


def resolve_revision(root: Path, base: str | None) -> Revision:
    """`--base REF`, or the merge-base with the upstream branch, or HEAD."""
    git_prefix(root)
    if base is not None:
        if base.startswith("-") or not base.strip():
            raise _usage(f"invalid git revision '{base}'")
        commit = _rev_parse(root, base)
        if commit is None:
            raise _usage(
                f"unknown git revision '{base}'",
                "name a commit, branch or tag (git rev-parse must know it); "
                "in CI, fetch the base branch first",
            )
        return Revision(base, commit)
    head = _rev_parse(root, "HEAD")
    if head is None:
        return Revision("HEAD", None)
    try:
        upstream = _git(root, "rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{upstream}")
        merge_base = _git(root, "merge-base", "HEAD", "@{upstream}").decode().strip()
    except GitError:
        return Revision("HEAD", head)
    label = f"merge-base with {upstream.decode().strip()}"
    return Revision(label, merge_base, merge_base[:12])


def _tracked_blobs(root: Path, commit: str, prefix: str) -> list[tuple[str, str]]:
    """(object id, path below `root`) of every regular file of the snapshot folders."""
    listing = _git(
        root,
        "ls-tree",
        "-r",
        "-z",
        "--full-tree",
        commit,
        "--",
        *(f"{prefix}{folder}" for folder in INPUT_FOLDERS),
    )
    blobs = []
    for entry in listing.split(b"\0"):
        if not entry:
            continue
        meta, _, raw_path = entry.partition(b"\t")
        mode, kind, oid = meta.decode().split()
        path = raw_path.decode("utf-8", "surrogateescape")
        if kind != "blob" or mode not in _BLOB_MODES or not path.startswith(prefix):
            continue  # symlinks and submodules are not profiles
        blobs.append((oid, path[len(prefix) :]))
    return blobs


def _read_blobs(root: Path, oids: Sequence[str]) -> list[bytes]:
    """The contents of `oids`, in order, from one `git cat-file --batch`."""
    output = _git(root, "cat-file", "--batch", stdin="".join(f"{o}\n" for o in oids).encode())
    contents = []
    offset = 0
    for _ in oids:
        header_end = output.index(b"\n", offset)
        size = int(output[offset:header_end].split()[2])
        start = header_end + 1
        contents.append(output[start : start + size])
        offset = start + size + 1
    return contents


def extract(root: Path, revision: Revision, destination: Path) -> None:
    """Write the input folders of `revision` below `destination` (none for the work tree)."""
    if revision.commit is None:
        return
    try:
        blobs = _tracked_blobs(root, revision.commit, git_prefix(root))
        contents = _read_blobs(root, [oid for oid, _ in blobs])
    except GitError as exc:
        raise _usage(f"cannot read {revision.label} from git: {exc}") from None
    for (_, relative), data in zip(blobs, contents, strict=True):
        parts = PurePosixPath(relative).parts
        if ".." in parts or not parts:
            continue
        target = destination.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def _on_side(error: CompileError, revision: Revision) -> CompileError:
    """The same diagnostics with each path as `REV:path`, git's name for a file at a revision."""
    side = revision.spec or revision.label
    moved = [
        replace(d, mark=replace(d.mark, path=f"{side}:{d.mark.path}")) for d in error.diagnostics
    ]
    return CompileError(moved)


def compile_revision(root: Path, revision: Revision) -> tuple[Profile, ...]:
    """The resolved profiles at `revision`, broken budget rules or not; none when it had
    no profiles/ yet."""
    from compiler.pipeline import PROFILES_DIR, compile_repository

    with tempfile.TemporaryDirectory(prefix="timeoutc-diff-") as folder:
        snapshot = Path(folder)
        extract(root, revision, snapshot)
        folder_at_revision = snapshot / PROFILES_DIR
        if not folder_at_revision.is_dir() or not any(
            p.suffix in (".yaml", ".yml") for p in folder_at_revision.iterdir()
        ):
            return ()
        try:
            # a broken budget rule is no error here: the rules may be newer than the
            # revision (its margins and statuses show in the diff all the same)
            return compile_repository(snapshot, render=False, budgets=False).profiles
        except CompileError as exc:
            raise _on_side(exc, revision) from None
