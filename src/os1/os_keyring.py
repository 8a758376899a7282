"""The OS keyring, when there is one that can keep a secret (the mail and CalDAV passwords).

`keyring` is an optional extra (on Linux it pulls in D-Bus and cryptography, and a headless
box has no backend anyway), so "none" is a normal answer here, not an error.
(`store/encryption.py` has its own strict variant: a database key that cannot be kept must
say why.)
"""

from __future__ import annotations

import importlib
from types import ModuleType


def usable_keyring() -> ModuleType | None:
    """The keyring module when it is installed and has a backend that keeps secrets."""
    try:
        keyring = importlib.import_module("keyring")
        backend = keyring.get_keyring()
    except Exception:  # not installed, or a broken backend: same as none
        return None
    # The fail backend (no Secret Service on a headless Linux) keeps nothing.
    if "fail" in type(backend).__module__ or getattr(backend, "priority", 1) <= 0:
        return None
    return keyring
