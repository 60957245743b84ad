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


@pytest.mark.parametrize("existing", ["README.md", "profiles/base.yaml", "out/keep.txt"])
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
    (tmp_path / "README.md").write_text("mine\n")
    (tmp_path / ".pre-commit-config.yaml").write_text("repos: []\n")
    result = run("init", tmp_path)
    assert result.exit_code == 2
    assert [line.split(": error")[0] for line in result.stderr.splitlines()] == [
        f"{tmp_path.as_posix()}/.pre-commit-config.yaml",
        f"{tmp_path.as_posix()}/README.md",
    ]


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
