"""`timeoutc init`: a working repository in one command, and never over anything that exists."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import REPO, Run, tree_bytes

from compiler.authoring.scaffold import scaffold_files

SCAFFOLD = sorted(
    [
        ".pre-commit-config.yaml",
        "README.md",
        "profiles/base.yaml",
        "profiles/development.yaml",
        "profiles/production.yaml",
        "profiles/staging.yaml",
        "schemas/profile.schema.json",
        "templates/env.yaml.j2",
        "templates/service.yaml.j2",
        "templates/timeouts.env.j2",
        "templates/timeouts.py.j2",
    ]
)


def test_init_then_build_then_check_is_clean(run: Run, tmp_path: Path) -> None:
    target = tmp_path / "timeouts"
    result = run("init", target)
    assert result.exit_code == 0, result.stderr
    written = tree_bytes(target)
    assert sorted(p for p in written if not p.startswith("out/")) == SCAFFOLD
    assert "out/staging/api/service.yaml" in written
    assert "out/production/worker/timeouts.py" in written
    assert f"created {target.as_posix()}/profiles/base.yaml" in result.stdout
    assert run("build", "--root", target).stderr.endswith("0 written, 0 removed, 24 unchanged\n")
    assert run("check", "--root", target).exit_code == 0
    assert run("validate", "--root", target).exit_code == 0
    assert tree_bytes(target) == written


def test_init_in_the_current_folder(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("init")
    assert result.exit_code == 0, result.stderr
    assert "created profiles/base.yaml" in result.stdout
    assert run("check").exit_code == 0


def test_example_profiles_say_how_to_use_them(tmp_path: Path) -> None:
    files = scaffold_files()
    for name in ("base", "production", "staging", "development"):
        text = files[f"profiles/{name}.yaml"].decode()
        assert text.startswith("# yaml-language-server: $schema=../schemas/profile.schema.json\n")
        assert "\n#" in text  # commented
    assert "abstract: true" in files["profiles/base.yaml"].decode()
    assert "{fixed: 3s}" in files["profiles/staging.yaml"].decode()


@pytest.mark.parametrize(
    "existing", [".pre-commit-config.yaml", "profiles/base.yaml", "out/keep.txt"]
)
def test_init_refuses_to_overwrite_and_writes_nothing(
    run: Run, tmp_path: Path, existing: str
) -> None:
    (tmp_path / existing).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / existing).write_text("mine\n")
    before = tree_bytes(tmp_path)
    result = run("init", tmp_path)
    assert result.exit_code == 2
    top = existing.split("/")[0]
    assert result.stderr == (
        f"{(tmp_path / top).as_posix()}: error: already exists; timeoutc init never "
        "overwrites anything; run it in an empty folder, or move this away\n"
    )
    assert tree_bytes(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [top]


def test_init_names_every_existing_file(run: Run, tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / ".pre-commit-config.yaml").write_text("repos: []\n")
    result = run("init", tmp_path)
    assert result.exit_code == 2
    assert [line.split(": error")[0] for line in result.stderr.splitlines()] == [
        f"{tmp_path.as_posix()}/.pre-commit-config.yaml",
        f"{tmp_path.as_posix()}/templates",
    ]


@pytest.mark.parametrize("readme", ["README.md", "README", "readme.rst"])
def test_init_accepts_a_new_github_repository_and_keeps_its_files(
    run: Run, tmp_path: Path, readme: str
) -> None:
    kept = {readme: "# mine\n", "LICENSE": "MIT\n", "LICENSE-APACHE": "Apache\n"}
    kept[".gitignore"] = "*.pyc\n"
    for name, text in kept.items():
        (tmp_path / name).write_text(text)
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    result = run("init", tmp_path)
    assert result.exit_code == 0, result.stderr
    for name, text in kept.items():
        assert (tmp_path / name).read_text() == text
    assert (tmp_path / ".git" / "HEAD").read_text() == "ref: refs/heads/main\n"
    readmes = sorted(p.name for p in tmp_path.iterdir() if p.name.upper().startswith("README"))
    assert readmes == [readme]  # the scaffold's README.md is not written beside it
    assert f"kept {(tmp_path / readme).as_posix()}: yours" in result.stdout
    assert run("check", "--root", tmp_path).exit_code == 0


@pytest.mark.parametrize("inside", ["out", "out/staging", "profiles/new", "docs/timeouts"])
def test_init_refuses_anywhere_inside_an_existing_config_repository(
    run: Run, repo: Path, inside: str
) -> None:
    before = tree_bytes(repo)
    result = run("init", repo / inside)
    assert result.exit_code == 2
    assert result.stderr.startswith(
        f"{(repo / inside).as_posix()}: error: is inside the config repository {repo.as_posix()}"
    )
    assert tree_bytes(repo) == before
    assert run("check", "--root", repo).exit_code == 0


def test_init_in_the_current_folder_says_no_cd(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    result = run("init")
    assert result.exit_code == 0, result.stderr
    assert "Next: edit profiles/, then timeoutc build and commit." in result.stderr
    assert "cd ." not in result.stderr
    monkeypatch.chdir(tmp_path)
    elsewhere = run("init", "there")
    assert elsewhere.exit_code == 0, elsewhere.stderr
    assert "Next: cd there, edit profiles/" in elsewhere.stderr


def test_init_leaves_unrelated_files_alone(run: Run, tmp_path: Path) -> None:
    (tmp_path / "LICENSE").write_text("mine\n")
    assert run("init", tmp_path).exit_code == 0
    assert (tmp_path / "LICENSE").read_text() == "mine\n"


def test_pre_commit_config_uses_the_published_hook_ids() -> None:
    config = yaml.safe_load(scaffold_files()[".pre-commit-config.yaml"])
    hooks = [hook for repo in config["repos"] for hook in repo["hooks"]]
    published = {
        hook["id"]: hook for hook in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    }
    assert [hook["id"] for hook in hooks] == ["timeoutc-validate", "timeoutc-check"]
    for hook in hooks:
        assert hook["entry"] == published[hook["id"]]["entry"]
        assert hook["files"] == published[hook["id"]]["files"]
        assert hook["pass_filenames"] is False


def test_init_takes_root_like_every_command(run: Run, tmp_path: Path) -> None:
    target = tmp_path / "platform"
    result = run("init", "--root", target)
    assert result.exit_code == 0, result.stderr
    assert run("check", "--root", target).exit_code == 0
    clash = run("init", tmp_path / "a", "--root", tmp_path / "b")
    assert clash.exit_code == 2
    assert "give the folder once" in clash.stderr
