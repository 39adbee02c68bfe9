"""In-wheel SBOMs (PEP 770) of real wheels on PyPI: no false error or warning.

Each wheel is pinned by SHA-256 and cached by `tests.corpus.fetch`. Between them they hold
every kind of root the sboms family meets in practice: auditwheel's (6.8.2), whose root is
the wheel itself with a ``file_name`` qualifier; Pillow's own, rooted at
``pkg:pypi/pillow@13.0.0`` under the name "Pillow"; cryptography's cargo-cyclonedx SBOM,
rooted at the Rust crate (``pkg:cargo/cryptography-rust@0.50.2``), and its OpenSSL SBOM
with no root at all.
"""

from __future__ import annotations

import zipfile

import pytest

from pipeline.archives import DEFAULT_LIMITS
from pipeline.checks import Findings
from pipeline.checks.files import check_files
from pipeline.checks.rules import sboms
from tests.corpus import fetch

pytestmark = pytest.mark.real

FILES = "https://files.pythonhosted.org/packages"
WHEELS = [
    {"filename": "pyzmq-27.3.0-cp312-abi3-musllinux_1_2_x86_64.whl",
     "url": f"{FILES}/9c/b4/0d91b1e5ea8d659c1014ef39acfda279f4768fc4043120e98b764a59f1c9/"
            "pyzmq-27.3.0-cp312-abi3-musllinux_1_2_x86_64.whl",
     "sha256": "d317685b83663fbd03ca8b5c34add7463e9bed094e3e1a69d2a895130b64ffaf",
     "sboms": ["auditwheel.cdx.json"]},
    {"filename": "pillow-13.0.0-cp312-cp312-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl",
     "url": f"{FILES}/e6/99/fdf65cc539e266ab93546c261bdf98411fe165c6e4e13f9dbf597097192b/"
            "pillow-13.0.0-cp312-cp312-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl",
     "sha256": "42d63be3af4f9b951b199b0a9d23365d37ab14687e6d77b74940432c8515c4ca",
     "sboms": ["auditwheel.cdx.json", "pillow-13.0.0.cdx.json"]},
    {"filename": "cryptography-50.0.2-cp311-abi3-manylinux_2_28_x86_64.whl",
     "url": f"{FILES}/1a/f1/b474e930c4d910328780e3940da76f5aa5cbc48ce1fc14e44d239d9ea9db/"
            "cryptography-50.0.2-cp311-abi3-manylinux_2_28_x86_64.whl",
     "sha256": "4061c0079120205fb760c58acab6443e217307dcf05e3702cf970e0689972856",
     "sboms": ["cryptography-rust.cyclonedx.json", "sbom.json"]},
]


@pytest.mark.parametrize("entry", WHEELS, ids=[str(w["filename"]).split("-")[0] for w in WHEELS])
def test_real_in_wheel_sboms_draw_no_finding(entry: dict[str, object]) -> None:
    wheel = fetch(entry)
    name, version, _ = wheel.name.split("-", 2)
    with zipfile.ZipFile(wheel) as archive:
        held = sorted(n.rsplit("/", 1)[1] for n in archive.namelist()
                      if n.startswith(f"{name}-{version}.dist-info/sboms/") and not n.endswith("/"))
    assert held == entry["sboms"]  # the family has something to read in each
    findings = Findings()
    sboms.check(wheel, findings, DEFAULT_LIMITS)
    assert findings.items == []
    everything = Findings()
    check_files([wheel], everything)  # the whole file-level check, as `wheelship check` runs it
    assert [f.line() for f in everything.items if f.code.startswith("WS68")] == []


def test_the_roots_of_the_real_sboms_are_read_and_judged_as_described() -> None:
    pyzmq = ("pyzmq", "27.3.0", "pkg:pypi/pyzmq@27.3.0?file_name=pyzmq-27.3.0-cp312-abi3-musllinux_1_2_x86_64.whl")
    assert sboms.root_problem(pyzmq, "pyzmq", "27.3.0") is None
    assert sboms.root_problem(pyzmq, "pyzmq", "27.3.1") == \
        "its root is pyzmq 27.3.0, but the wheel is pyzmq 27.3.1"
    crate = ("cryptography-rust", "0.50.2", "pkg:cargo/cryptography-rust@0.50.2?download_url=file://.")
    assert sboms.root_problem(crate, "cryptography", "50.0.2") is None
    assert sboms.root_problem(("Pillow", "13.0.0", "pkg:pypi/pillow@13.0.0"), "pillow", "13.0.0") is None
