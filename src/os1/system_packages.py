"""System packages a feature needs (espeak-ng, festival, PortAudio): installed on demand.

On Debian and Ubuntu os1 installs a missing package itself with apt-get (as root, or through
sudo without a password prompt); anywhere else, or when that fails, the error names the
package and the command, so the user knows exactly what to do.
"""

from __future__ import annotations

import ctypes.util
import logging
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


class MissingSystemPackage(RuntimeError):
    """A feature needs a system package that is not installed and could not be installed."""


@dataclass(frozen=True)
class SystemPackage:
    debian: str  # the Debian/Ubuntu package name
    purpose: str  # what os1 needs it for, in the user's words
    present: Callable[[], bool]


def command(name: str) -> Callable[[], bool]:
    return lambda: shutil.which(name) is not None


def library(name: str) -> Callable[[], bool]:
    return lambda: ctypes.util.find_library(name) is not None


def _apt_prefix() -> list[str] | None:
    if shutil.which("apt-get") is None:
        return None
    if os.geteuid() == 0:
        return []
    if shutil.which("sudo") is not None:
        return ["sudo", "-n"]  # never prompts: a hidden password prompt would hang os1
    return None


def ensure(package: SystemPackage, *, install: bool = True) -> None:
    """Return when the package is usable; install it on Debian/Ubuntu; else raise."""
    if package.present():
        return
    prefix = _apt_prefix()
    hint = f"sudo apt-get install {package.debian}"
    if install and prefix is not None:
        log.warning("installing %s (%s) with apt-get…", package.debian, package.purpose)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for step in (["apt-get", "update", "-qq"],
                     ["apt-get", "install", "-y", "-qq", "--no-install-recommends",
                      # Wait for another install to finish instead of failing at once.
                      "-o", "DPkg::Lock::Timeout=120", package.debian]):
            try:
                subprocess.run([*prefix, *step], env=env, check=True, capture_output=True,
                               timeout=600)
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
                detail = getattr(exc, "stderr", b"") or b""
                log.warning("apt-get failed: %s", detail.decode(errors="replace")[-500:])
                break
        if package.present():
            return
    where = ("" if shutil.which("apt-get") else
             " (on macOS: brew install; elsewhere: your system's package manager)")
    raise MissingSystemPackage(
        f"{package.purpose} needs the system package {package.debian}, which is not "
        f"installed. Install it with `{hint}`{where}, then try again.")
