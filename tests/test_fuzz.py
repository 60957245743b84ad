"""Fuzzing with hypothesis: the loader and the whole pipeline never fail but with a diagnostic.

- random text and bytes into the loader: a `Document` or a `CompileError`, nothing else;
- random profiles (right shape, any values) through `build`: exit 0 or 2, never a traceback;
- random valid profiles: always build, and `check` is clean right after.
"""

from __future__ import annotations

import json
import keyword
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from compiler.cli.main import main
from compiler.diagnostics import CompileError
from compiler.pipeline.load import Document, load_bytes
from tests.conftest import REPO

LOADER = settings(max_examples=200, deadline=None)
PIPELINE = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])

YAML_ALPHABET = st.sampled_from(
    [*"abcxyz019 \t\n-:,.[]{}?&*!|>'\"#%@`~\\/", "---", "...", "\ufeff", "\x00", "é"]
)
YAML_TEXT = st.lists(YAML_ALPHABET, max_size=80).map("".join)


def _load(raw: bytes) -> None:
    try:
        document = load_bytes(raw, "profiles/fuzz.yaml")
    except CompileError as exc:
        assert exc.diagnostics
        for diagnostic in exc.diagnostics:
            assert diagnostic.mark.path == "profiles/fuzz.yaml"
            assert "\n" not in str(diagnostic)
        return
    assert isinstance(document, Document)
    assert isinstance(document.data, dict)


@LOADER
@given(st.text(max_size=300))
def test_any_text_loads_or_is_a_diagnostic(text: str) -> None:
    _load(text.encode("utf-8", errors="surrogatepass"))


@LOADER
@given(YAML_TEXT)
def test_yaml_like_text_loads_or_is_a_diagnostic(text: str) -> None:
    _load(text.encode("utf-8"))


@LOADER
@given(st.binary(max_size=200))
def test_any_bytes_load_or_are_a_diagnostic(raw: bytes) -> None:
    _load(raw)


NAME = st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True)
DEP_NAME = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True)
# Valid names by construction: no '_' (two pairs could make one env var), no Python keyword,
# no `float` (it would hide the type in timeouts.py), no `startup.total` (STARTUP_TOTAL_...).
PLAIN_NAME = NAME.filter(lambda n: not keyword.iskeyword(n) and n not in ("float", "startup"))
UNITS = st.sampled_from(["ms", "s", "m"])
ANY_SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["1s", "0s", "1.5s", "250ms", "24h", "25h", "1:30", "no", "0777", ".5s"]),
)


@contextmanager
def scratch_repo(profiles: dict[str, str]) -> Iterator[Path]:
    """The shipped schema and templates, and these profiles (no out/ yet)."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for name in ("schemas", "templates"):
            shutil.copytree(REPO / name, root / name)
        (root / "profiles").mkdir()
        for name, text in profiles.items():
            (root / "profiles" / f"{name}.yaml").write_text(text, encoding="utf-8")
        yield root


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stderr


def maybe(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly a valid value, sometimes anything: most profiles get far, each one way wrong."""
    return st.one_of(valid, valid, valid, valid, valid, ANY_SCALAR)


DURATION = st.sampled_from(["1s", "250ms", "2.5s", "1m"])


@st.composite
def any_profile(draw: st.DrawFn) -> dict[str, Any]:
    """The right keys, each value mostly valid and otherwise of any type and size."""
    timeout = st.one_of(maybe(DURATION), st.fixed_dictionaries({"fixed": maybe(DURATION)}))
    service = draw(
        st.fixed_dictionaries(
            {
                "image": maybe(st.just("us-docker.pkg.dev/p/x:1")),
                "port": maybe(st.integers(1, 65535)),
                "request_timeout": maybe(st.sampled_from(["300s", "3600s"])),
                "health": st.fixed_dictionaries(
                    {"startup": maybe(st.just("/h")), "liveness": maybe(st.just("/l"))}
                ),
            },
            optional={
                "dependencies": st.dictionaries(
                    DEP_NAME,
                    st.fixed_dictionaries(
                        {"timeouts": st.dictionaries(DEP_NAME, timeout, max_size=3)},
                        optional={
                            "retries": maybe(st.integers(0, 3)),
                            "backoff": maybe(DURATION),
                        },
                    ),
                    max_size=3,
                ),
                "startup": st.lists(st.one_of(ANY_SCALAR, st.just("a.b")), max_size=2),
            },
        )
    )
    return draw(
        st.fixed_dictionaries(
            {"services": st.dictionaries(NAME, st.just(service), min_size=1, max_size=2)},
            optional={
                "environment": st.fixed_dictionaries(
                    {},
                    optional={
                        "timeout_multiplier": maybe(st.floats(0.01, 5)),
                        "safety_margin": maybe(st.sampled_from([1, 1.1, 1.5])),
                        "max_timeout": maybe(DURATION),
                    },
                ),
                "platform": st.fixed_dictionaries(
                    {},
                    optional={
                        "project": maybe(st.just("netra-fuzz")),
                        "min_instances": maybe(st.integers(0, 5)),
                    },
                ),
            },
        )
    )


def _dump(profile: dict[str, Any]) -> str:
    # JSON is YAML (NaN and Infinity are plain text); raw non-ASCII, as YAML has no surrogates
    return json.dumps(profile, allow_nan=True, ensure_ascii=False)


@PIPELINE
@given(any_profile())
def test_any_profile_builds_or_is_a_diagnostic(profile: dict[str, Any]) -> None:
    with scratch_repo({"fuzz": _dump(profile)}) as root:
        code, stderr = invoke("build", "--root", str(root))
        event(f"exit {code}")
        assert code in (0, 2), stderr
        assert "Traceback" not in stderr and "internal error" not in stderr
        if code == 2:
            assert stderr.startswith("profiles/fuzz.yaml:"), stderr
        else:
            assert invoke("check", "--root", str(root))[0] == 0


@st.composite
def valid_profile(draw: st.DrawFn) -> dict[str, Any]:
    """A concrete profile that keeps every rule by construction (budgets with room to spare)."""
    services: dict[str, Any] = {}
    for name in draw(st.lists(NAME, min_size=1, max_size=3, unique=True)):
        dependencies: dict[str, Any] = {}
        refs = []
        for dep in draw(st.lists(PLAIN_NAME, min_size=0, max_size=3, unique=True)):
            timeouts = {}
            for timeout in draw(st.lists(PLAIN_NAME, min_size=1, max_size=2, unique=True)):
                number = draw(st.integers(1, 9000))
                unit = draw(st.sampled_from(["ms", "ms", "s"]))
                if unit == "s":
                    number = number % 9 + 1
                fixed = draw(st.booleans())
                value = f"{number}{unit}"
                timeouts[timeout] = {"fixed": value} if fixed else value
                refs.append(f"{dep}.{timeout}")
            dependencies[dep] = {"timeouts": timeouts, "retries": draw(st.integers(0, 2))}
        services[name] = {
            "image": f"us-docker.pkg.dev/p/{name}:{draw(st.integers(0, 99))}",
            "port": draw(st.integers(1, 65535)),
            "request_timeout": f"{draw(st.integers(600, 3600))}s",
            "health": {"startup": f"/{name}", "liveness": "/live"},
            "dependencies": dependencies,
            "startup": draw(st.lists(st.sampled_from(refs), unique=True)) if refs else [],
        }
    multiplier = draw(st.sampled_from([0.5, 0.7, 1, 1.1, 1.5, 2]))  # dumped as 0.7: exact
    margin = draw(st.sampled_from([1, 1.1, 1.25]))
    return {
        "environment": {"timeout_multiplier": multiplier, "safety_margin": margin},
        "platform": {"project": "netra-fuzz", "region": "europe-west1"},
        "services": services,
    }


@PIPELINE
@given(valid_profile())
def test_valid_profiles_always_build_and_check_clean(profile: dict[str, Any]) -> None:
    files = 4 * len(profile["services"])
    with scratch_repo({"fuzz": json.dumps(profile)}) as root:
        code, stderr = invoke("build", "--root", str(root))
        assert code == 0, stderr
        assert len(list((root / "out" / "fuzz").rglob("*.*"))) == files
        assert invoke("check", "--root", str(root)) == (0, "timeoutc: out/ is current\n")
        again = invoke("build", "--root", str(root))
        assert again == (
            0,
            f"timeoutc: {files} files from 1 profile: 0 written, 0 removed, {files} unchanged\n",
        )
