"""Read-back verification, skipped for an output that passed it before with the same model.

`verify_output(path, text, profile, service)` is a pure function: the file name, the
rendered text, and the model it is compared with. The memo's key covers all three (the
model as its pickle: every field, provenance included) plus the compiler's code, so a
hit means the very same check passed before. The profile given to the check carries
no services (`services=()`): a check sees only its own service, and the key covers
exactly what a check can see. When the files a profile was resolved from are known
(this process loaded them), their digest stands for the model, a pure function of them;
the model's pickle stands for it too (see `VerifiedOutputs.verify`).
"""

from __future__ import annotations

import dataclasses
import pickle
from collections.abc import Mapping

from compiler import cache
from compiler.loader import Document
from compiler.model import Profile, Service
from compiler.verify import verify_output


class VerifiedOutputs:
    """Verifies rendered outputs, remembering which passed."""

    def __init__(
        self, memo: cache.Memo | None = None, documents: Mapping[str, Document] | None = None
    ) -> None:
        self.memo = memo if memo is not None else cache.Memo("verified")
        self.documents = documents or {}
        self._profile: tuple[Profile, Profile, bytes, bytes] | None = None
        self._service: tuple[Service, bytes] | None = None

    def _own_profile(self, profile: Profile) -> tuple[Profile, bytes, bytes]:
        """`profile` without its services, the digest of its files (or b"" when they are
        not known) and its pickle."""
        if self._profile is None or self._profile[0] is not profile:
            alone = dataclasses.replace(profile, services=())
            self._profile = (profile, alone, self._inputs(profile), _pickle(alone))
        return self._profile[1], self._profile[2], self._profile[3]

    def _inputs(self, profile: Profile) -> bytes:
        """The digest of the files `profile` was resolved from, when all are known: the
        model is a pure function of them (and of the code, in every key)."""
        sources = [cache.source_key(self.documents.get(name)) for name in profile.chain]
        if not sources or any(source is None for source in sources):
            return b""
        return cache.key(b"inputs", *(source for source in sources if source is not None))

    def _service_pickle(self, service: Service) -> bytes:
        if self._service is None or self._service[0] is not service:
            self._service = (service, _pickle(service))
        return self._service[1]

    def verify(self, path: str, text: str, data: bytes, profile: Profile, service: Service) -> None:
        """Raise `CompileError` when `text` (encoded: `data`) does not read back as the model.

        Two keys name a pass: by the profile's files and the service's name (cheap: one
        digest for every unchanged output when nothing changed), and by the model itself
        (its pickle: an edit to one service of a file leaves the others' models, and
        their keys, as they were).
        """
        alone, inputs, profile_pickle = self._own_profile(profile)
        if self.memo.path is None:
            verify_output(path, text, alone, service)
            return
        name = path.encode()
        by_files = inputs and cache.key(b"by-files", name, data, inputs, service.name.encode())
        if by_files and by_files in self.memo:
            return
        model = self._service_pickle(service)
        by_model = cache.key(b"by-model", name, data, profile_pickle, model)
        if by_model not in self.memo:
            verify_output(path, text, alone, service)
            self.memo.add(by_model)
        if by_files:
            self.memo.add(by_files)


def _pickle(value: object) -> bytes:
    return pickle.dumps(value, protocol=5)
