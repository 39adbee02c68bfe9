"""Write tests/corpus/top-pypi.json: the current files of the most-downloaded PyPI projects.

Run by hand to refresh the corpus (`python -m tests.corpus.make_list`); the tests read
only the committed list, so a run is reproducible. The ranks come from the `env`
library's packages/pypi.tsv (column rank_among_15000_most_downloaded); for each
project the newest release's sdist and up to three wheels are taken: the pure wheel,
or CPython 3.12 (or abi3) wheels for manylinux x86_64, macOS arm64 and Windows
AMD64, so every platform's tags and binary formats are in the corpus.
"""

from __future__ import annotations

import csv
import json
import sys
import urllib.parse
from pathlib import Path

import requests

HERE = Path(__file__).parent
TSV = Path("/work/.library/env/packages/pypi.tsv")
WANTED = (
    lambda n: n.endswith("-py3-none-any.whl") or n.endswith("-py2.py3-none-any.whl"),
    lambda n: "-cp312-" in n and "manylinux" in n and n.endswith("x86_64.whl"),
    lambda n: "-cp312-" in n and "macosx" in n and n.endswith("arm64.whl"),
    lambda n: "-cp312-" in n and n.endswith("win_amd64.whl"),
    lambda n: "-abi3-" in n and "manylinux" in n and n.endswith("x86_64.whl"),
    lambda n: "-abi3-" in n and "macosx" in n and n.endswith(("arm64.whl", "universal2.whl")),
    lambda n: "-abi3-" in n and n.endswith("win_amd64.whl"),
    lambda n: "manylinux" in n and n.endswith("x86_64.whl"),
)


def top(count: int) -> list[tuple[int, str]]:
    ranked = []
    with TSV.open() as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            rank = row["rank_among_15000_most_downloaded"]
            if rank and 0 < int(rank):
                ranked.append((int(rank), row["name"]))
    return sorted(ranked)[:count]


def pick(files: list[dict]) -> list[dict]:
    chosen: list[dict] = []
    sdists = [f for f in files if f["packagetype"] == "sdist" and f["filename"].endswith(".tar.gz")]
    chosen += sdists[:1]
    wheels = [f for f in files if f["packagetype"] == "bdist_wheel"]
    for want in WANTED:
        match = next((f for f in wheels if want(f["filename"]) and f not in chosen), None)
        if match is not None and sum(1 for c in chosen if c["packagetype"] == "bdist_wheel") < 3:
            chosen.append(match)
    return chosen


def main(count: int = 100) -> None:
    entries = []
    session = requests.Session()
    for rank, name in top(count):
        api = f"https://pypi.org/pypi/{name}/json"
        data = session.get(api, timeout=60).json()
        version = data["info"]["version"]
        for f in pick(data["urls"]):
            entries.append({"rank": rank, "project": name, "version": version, "filename": f["filename"],
                            "url": urllib.parse.urljoin(api, f["url"]), "sha256": f["digests"]["sha256"], "size": f["size"]})
        print(rank, name, version, file=sys.stderr)
    (HERE / "top-pypi.json").write_text(json.dumps(entries, indent=1) + "\n")




#: Files that once drew a false alarm, beyond the top list: a Rust binary shipped as a
#: script (ruff), a project that owns a generic-looking name (build).
REGRESSIONS = {"ruff": ("manylinux", "x86_64"), "build": ("none-any",), "uv": ("manylinux", "x86_64")}
#: Real projects released from their sdists, one or more per build backend.
#: (virtualenv's and platformdirs' builds need python-sbom>=0.1.2, which the registry here lacks, and siphash24's sdist
#: clones a subproject from GitHub: neither can build on these machines.)
RELEASES = ("certifi", "six", "markupsafe", "wrapt", "python-dateutil", "tenacity", "pygments", "attrs",
            "idna", "tomli", "aiohappyeyeballs", "annotated-doc", "charset-normalizer", "pybind11", "meson-python")


def _latest(session: requests.Session, name: str) -> tuple[str, str, list[dict]]:
    api = f"https://pypi.org/pypi/{name}/json"
    data = session.get(api, timeout=60).json()
    return api, data["info"]["version"], data["urls"]


def named() -> None:
    session = requests.Session()
    regressions, releases = [], []
    for name, words in REGRESSIONS.items():
        api, version, files = _latest(session, name)
        f = next(f for f in files if f["packagetype"] == "bdist_wheel" and all(w in f["filename"] for w in words))
        regressions.append({"project": name, "version": version, "filename": f["filename"],
                            "url": urllib.parse.urljoin(api, f["url"]), "sha256": f["digests"]["sha256"],
                            "size": f["size"]})
    for name in RELEASES:
        api, version, files = _latest(session, name)
        f = next(f for f in files if f["packagetype"] == "sdist")
        releases.append({"project": name, "version": version, "filename": f["filename"],
                         "url": urllib.parse.urljoin(api, f["url"]), "sha256": f["digests"]["sha256"],
                         "size": f["size"]})
    (HERE / "regressions.json").write_text(json.dumps(regressions, indent=1) + "\n")
    (HERE / "releases.json").write_text(json.dumps(releases, indent=1) + "\n")


if __name__ == "__main__":
    if sys.argv[1:] == ["named"]:
        named()
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
