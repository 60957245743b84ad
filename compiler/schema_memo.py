"""Schema validation, skipped for profile bytes that passed it before under the same schema.

jsonschema takes a second on a 1,000-service profile and a tenth of a second just to
import; a profile that has not changed since it last passed cannot fail now (the check
is a pure function of the schema's bytes, the profile's bytes and the code, all in the
memo's key). So `check` consults the memo first, and jsonschema is imported only when a
profile, or the schema itself, is new. Errors are never memoized: they are always
computed, and reported, exactly as without the memo.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from compiler import cache
from compiler.diagnostics import CompileError
from compiler.loader import Document, read_limited

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

SCHEMA_FILE = Path("schemas") / "profile.schema.json"
BUILTIN_SCHEMA = Path(__file__).resolve().parent / "data" / SCHEMA_FILE


def schema_file(root: Path) -> Path:
    """The repository's schema file, or timeoutc's own when the repository has none."""
    file = root / SCHEMA_FILE
    return file if file.exists() or file.is_symlink() else BUILTIN_SCHEMA


def _read(path: Path) -> bytes | None:
    """The schema's bytes, or None (`read_schema` reports why, when it runs)."""
    try:
        return read_limited(path, SCHEMA_FILE.as_posix())
    except CompileError:
        return None


class SchemaCheck:
    """Validates documents against the repository's schema, remembering what passed.

    Built eagerly when the schema is new (so a broken schema is reported first, as
    `read_schema` reports it), lazily when the schema is one that passed before.
    """

    def __init__(self, root: Path, file: Path | None = None, memo: cache.Memo | None = None):
        self.file = file or root / SCHEMA_FILE
        self.memo = memo or cache.Memo("schema")
        self.schema_bytes = _read(self.file)
        self._validator: Draft202012Validator | None = None
        known = self.schema_bytes is not None and self._schema_key() in self.memo
        if not known:
            self.validator()

    def _schema_key(self) -> bytes:
        assert self.schema_bytes is not None
        return cache.key(b"schema", self.schema_bytes)

    def validator(self) -> Draft202012Validator:
        """The compiled validator (raises `CompileError` for a broken schema)."""
        if self._validator is None:
            from compiler.schema import read_schema_file, validator_for

            self._validator = validator_for(read_schema_file(self.file))
            if self.schema_bytes != _read(self.file):
                self.schema_bytes = None  # changed while read: remember nothing this run
            if self.schema_bytes is not None:
                self.memo.add(self._schema_key())
        return self._validator

    def check(self, document: Document, raw: bytes) -> None:
        """Raise `CompileError` when `document` (loaded from `raw`) breaks the schema."""
        cache.remember_source(document, document.path, raw)
        digest = None
        if self.schema_bytes is not None:
            digest = cache.key(b"profile", self.schema_bytes, raw)
            if digest in self.memo:
                return
        from compiler.schema import raise_for_schema

        raise_for_schema(document, self.validator())
        if digest is not None and self.schema_bytes is not None:
            self.memo.add(digest)

    @classmethod
    def for_repository(cls, root: Path) -> list[SchemaCheck]:
        """The repository's schema, and timeoutc's own when they differ (or when it has none).

        The repository's schema is what editors read and may add local rules; timeoutc's
        own is the contract every later stage relies on, so a looser or older repository
        schema can never let a value of the wrong type through.
        """
        if schema_file(root) == BUILTIN_SCHEMA:
            return [cls(root, BUILTIN_SCHEMA)]  # no schema of its own: timeoutc's
        checks = [cls(root)]
        own = cls(root, BUILTIN_SCHEMA, checks[0].memo)
        if own.schema_bytes != checks[0].schema_bytes:
            checks.append(own)
        return checks

    def save(self) -> None:
        """Write what passed to the memo."""
        self.memo.save()
