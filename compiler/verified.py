"""Read-back verification, skipped for an output that passed it before with the same model.

`verify_output(path, text, profile, service)` is a pure function: the file name, the
rendered text, and the model it is compared with. The memo's key covers all three (the
model as its pickle: every field, provenance included) plus the compiler's code, so a
hit means the very same check passed before. The profile given to the check carries
no services (`services=()`): a check sees only its own service, and the key covers
exactly what a check can see. When the files a profile was resolved from are known
(this process loaded them), their digest stands for the model: it is a pure function
of them; otherwise the model's pickle does.
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
        self._profile: tuple[Profile, Profile, bytes] | None = None
        self._service: tuple[Service, bytes] | None = None

    def _own_profile(self, profile: Profile) -> tuple[Profile, bytes]:
        """`profile` without its services, and the digest it is known by."""
        if self._profile is None or self._profile[0] is not profile:
            alone = dataclasses.replace(profile, services=())
            self._profile = (profile, alone, self._inputs(profile) or self._pickle(alone))
        return self._profile[1], self._profile[2]

    def _inputs(self, profile: Profile) -> bytes:
        """The digest of the files `profile` was resolved from, when all are known: the
        model is a pure function of them (and of the code, in every key)."""
        sources = [cache.source_key(self.documents.get(name)) for name in profile.chain]
        if not sources or any(source is None for source in sources):
            return b""
        return cache.key(b"inputs", *(source for source in sources if source is not None))

    def _pickle(self, value: object) -> bytes:
        return b"pickle:" + pickle.dumps(value, protocol=5)

    def _service_key(self, service: Service, profile_key: bytes) -> bytes:
        if profile_key.startswith(b"pickle:"):
            if self._service is None or self._service[0] is not service:
                self._service = (service, self._pickle(service))
            return self._service[1]
        return service.name.encode()  # a service of a profile known by its inputs

    def verify(self, path: str, text: str, data: bytes, profile: Profile, service: Service) -> None:
        """Raise `CompileError` when `text` (encoded: `data`) does not read back as the model."""
        alone, profile_key = self._own_profile(profile)
        if self.memo.path is None:
            verify_output(path, text, alone, service)
            return
        service_key = self._service_key(service, profile_key)
        digest = cache.key(b"verified", path.encode(), data, profile_key, service_key)
        if digest in self.memo:
            return
        verify_output(path, text, alone, service)
        self.memo.add(digest)
