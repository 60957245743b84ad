"""Read-back verification, skipped for an output that passed it before with the same model.

`verify_output(path, text, profile, service)` is a pure function: the file name, the
rendered text, and the model it is compared with. The memo's key covers all three (the
model as its pickle: every field, provenance included) plus the compiler's code, so a
hit means the very same check passed before. The profile given to the check carries
no services (`services=()`): a check sees only its own service, and the key covers
exactly what a check can see.
"""

from __future__ import annotations

import dataclasses
import pickle

from compiler import cache
from compiler.model import Profile, Service
from compiler.verify import verify_output


class VerifiedOutputs:
    """Verifies rendered outputs, remembering which passed."""

    def __init__(self, memo: cache.Memo | None = None) -> None:
        self.memo = memo if memo is not None else cache.Memo("verified")
        self._profile: tuple[Profile, Profile, bytes] | None = None
        self._service: tuple[Service, bytes] | None = None

    def _own_profile(self, profile: Profile) -> tuple[Profile, bytes]:
        """`profile` without its services, and the digest of its pickle."""
        if self._profile is None or self._profile[0] is not profile:
            alone = dataclasses.replace(profile, services=())
            self._profile = (profile, alone, pickle.dumps(alone, protocol=5))
        return self._profile[1], self._profile[2]

    def _service_pickle(self, service: Service) -> bytes:
        if self._service is None or self._service[0] is not service:
            self._service = (service, pickle.dumps(service, protocol=5))
        return self._service[1]

    def verify(self, path: str, text: str, data: bytes, profile: Profile, service: Service) -> None:
        """Raise `CompileError` when `text` (encoded: `data`) does not read back as the model."""
        alone, profile_pickle = self._own_profile(profile)
        if self.memo.path is None:
            verify_output(path, text, alone, service)
            return
        digest = cache.key(
            b"verified", path.encode(), data, profile_pickle, self._service_pickle(service)
        )
        if digest in self.memo:
            return
        verify_output(path, text, alone, service)
        self.memo.add(digest)
