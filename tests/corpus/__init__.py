"""The real-world corpus: published files of widely used projects, pinned by SHA-256.

`files()` downloads each file of the committed list once into a cache
(``WHEELSHIP_CORPUS_CACHE``, default ``~/.cache/wheelship/corpus``) and checks it
against its pinned SHA-256, so a test reads exactly the bytes PyPI published.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pipeline.records import sha256_of

HERE = Path(__file__).parent
CACHE = Path(os.environ.get("WHEELSHIP_CORPUS_CACHE", Path.home() / ".cache" / "wheelship" / "corpus"))


def entries(list_name: str = "top-pypi.json") -> list[dict[str, object]]:
    return json.loads((HERE / list_name).read_text())  # type: ignore[no-any-return]


def fetch(entry: dict[str, object]) -> Path:
    """The cached file of one entry, downloaded if missing, always checked by hash."""
    import requests

    path = CACHE / str(entry["sha256"])[:2] / str(entry["filename"])
    if path.is_file() and sha256_of(path) == entry["sha256"]:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".part")
    with requests.get(str(entry["url"]), stream=True, timeout=120) as response:
        response.raise_for_status()
        with tmp.open("wb") as fh:
            for chunk in response.iter_content(1 << 20):
                fh.write(chunk)
    actual = sha256_of(tmp)
    if actual != entry["sha256"]:
        tmp.unlink()
        raise RuntimeError(f"{entry['filename']}: downloaded sha256 {actual}, pinned {entry['sha256']}")
    tmp.replace(path)
    return path


def by_project(list_name: str = "top-pypi.json") -> dict[str, list[Path]]:
    """Every project's cached files, downloading what is missing, four at a time."""
    items = entries(list_name)
    with ThreadPoolExecutor(4) as pool:
        paths = list(pool.map(fetch, items))
    grouped: dict[str, list[Path]] = defaultdict(list)
    for entry, path in zip(items, paths, strict=True):
        grouped[str(entry["project"])].append(path)
    return dict(grouped)
