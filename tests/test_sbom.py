"""The release SBOM and SHA256SUMS of a real run, and the in-wheel SBOM checks (PEP 770).

The run is real: the pure example with declared dependencies, planned and built by the
local builder into a folder store, then fetched back as `fetch -o DIR` does.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from pipeline import sbom
from pipeline.archives import DEFAULT_LIMITS, Limits
from pipeline.checks import CHECKS, Findings, rules
from pipeline.cli import main
from pipeline.errors import IntegrityError
from pipeline.records import sha256_of
from pipeline.runs import Runs, RunState
from pipeline.stores import open_store
from tests.conftest import copy_project
from tests.distfactory import make_wheel

PROJECT, VERSION = "wheelship-demo-pure", "1.0.0"
DEPENDENCIES = '''dependencies = ["packaging>=24", "requests[socks]>=2.31,<3; python_version >= '3.10'"]
[project.optional-dependencies]
fancy = ["rich>=13"]
'''


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunState, dict[str, Path]]:
    """A real run of the pure example (with dependencies) and its files fetched back."""
    tmp = tmp_path_factory.mktemp("sbom-run")
    project = copy_project("purepkg", tmp, version=VERSION)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('requires-python = ">=3.9"\n',
                                                       f'requires-python = ">=3.9"\n{DEPENDENCIES}'))
    store = f"file://{tmp / 'store'}"
    # --dry-run: the plan asks no index whether the version is out (a unit test reaches no network)
    assert main(["plan", str(project), "--tag", f"v{VERSION}", "--store", store, "--dry-run"]) == 0
    runs = Runs(open_store(store), PROJECT, VERSION)
    run_id = runs.newest().run_id
    assert main(["build", str(project), "--run-id", run_id, "--store", store]) == 0
    state = runs.read(run_id)
    return state, runs.fetch(state, tmp / "out")


def _sbom(run: tuple[RunState, dict[str, Path]]) -> dict[str, Any]:
    state, files = run
    return json.loads(sbom.release_sbom(state, sbom.declared(files.values())))  # type: ignore[no-any-return]


def test_the_release_sbom_validates_against_cyclonedx_1_6_and_names_every_file(run) -> None:
    state, files = run
    raw = sbom.release_sbom(state, sbom.declared(files.values()))
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(raw.decode()) is None
    doc = json.loads(raw)
    assert doc["specVersion"] == "1.6" and doc["bomFormat"] == "CycloneDX"
    root = doc["metadata"]["component"]
    assert (root["name"], root["version"], root["purl"]) == (PROJECT, VERSION, f"pkg:pypi/{PROJECT}@{VERSION}")
    by_file = {c["name"]: c for c in doc["components"] if c["type"] == "file"}
    assert sorted(by_file) == sorted(files) and len(files) == 2
    for name, path in files.items():
        component = by_file[name]
        assert component["hashes"] == [{"alg": "SHA-256", "content": sha256_of(path)}]
        assert component["purl"] == f"pkg:pypi/{PROJECT}@{VERSION}?file_name={name}"


def test_the_sbom_holds_the_declared_dependencies_with_their_specifiers(run) -> None:
    doc = _sbom(run)
    libraries = {c["bom-ref"]: c for c in doc["components"] if c["type"] == "library"}
    specs = {c["name"]: (next(p["value"] for p in c["properties"] if p["name"] == "wheelship:requires-dist"),
                         c["scope"]) for c in libraries.values()}
    assert specs == {
        "packaging": ("packaging>=24", "required"),
        "requests": ('requests[socks]<3,>=2.31; python_version >= "3.10"', "required"),
        "rich": ('rich>=13; extra == "fancy"', "optional"),
    }
    root = next(d for d in doc["dependencies"] if d["ref"] == f"pkg:pypi/{PROJECT}@{VERSION}")
    assert sorted(root["dependsOn"]) == sorted(libraries)


def test_the_sbom_names_the_tools_from_the_records_and_the_backend_from_the_wheel(run) -> None:
    state, _ = run
    tools = {c["name"]: c.get("version") for c in _sbom(run)["metadata"]["tools"]["components"]}
    recorded = {k: v for a in state.artifacts for k, v in a.tools.items()}
    assert tools["wheelship"] == state.plan.written_by != ""
    assert all(tools[name] == version for name, version in recorded.items())
    assert "uv" in recorded and "python" in recorded  # the frontend (uv build) and the interpreter
    assert tools["setuptools"]  # the backend, from the wheel's WHEEL Generator


def test_an_image_and_a_container_engine_in_a_record_are_tools_too(run) -> None:
    state, files = run
    record = state.records["pure"]
    tools = {"cibuildwheel": "4.3.1", "python": "3.12.8", "container-engine": "podman",
             "image": "quay.io/pypa/manylinux_2_28_x86_64:2025.11.01-1"}
    cibw = replace(state, records={**state.records, "pure": replace(record, artifacts=tuple(
        replace(a, builder="cibuildwheel", tools=tools) for a in record.artifacts))})
    doc = json.loads(sbom.release_sbom(cibw, sbom.declared(files.values())))
    found = {(c["type"], c["name"], c.get("version")) for c in doc["metadata"]["tools"]["components"]}
    assert {("container", "quay.io/pypa/manylinux_2_28_x86_64", "2025.11.01-1"), ("application", "podman", None),
            ("application", "cibuildwheel", "4.3.1")} <= found


def test_the_sbom_is_the_same_bytes_for_the_same_run_and_its_serial_follows_the_run_id(run) -> None:
    state, files = run
    first = sbom.release_sbom(state, sbom.declared(files.values()))
    assert first == sbom.release_sbom(state, sbom.declared(files.values()))
    doc = json.loads(first)
    assert doc["metadata"]["timestamp"] == max(r.finished for r in state.records.values())
    other = replace(state, plan=replace(state.plan, run_id="gh42-1"))
    assert json.loads(sbom.release_sbom(other, sbom.declared(files.values())))["serialNumber"] != doc["serialNumber"]
    assert sbom.sbom_name(PROJECT, VERSION) == f"{PROJECT}-{VERSION}.cdx.json"


def test_sha256sums_is_what_sha256sum_checks(run, tmp_path: Path) -> None:
    state, files = run
    folder = next(iter(files.values())).parent
    (folder / "SHA256SUMS").write_text(sbom.sha256sums({a.name: a.sha256 for a in state.artifacts}))
    lines = (folder / "SHA256SUMS").read_text().splitlines()
    assert lines == sorted(lines, key=lambda line: line.split("  ", 1)[1]) and all("  " in line for line in lines)
    checked = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=folder, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    assert sorted(checked.stdout.splitlines()) == sorted(f"{name}: OK" for name in files)
    copy = tmp_path / "copy"
    copy.mkdir()
    for name, path in files.items():
        (copy / name).write_bytes(path.read_bytes())
    (copy / "SHA256SUMS").write_text(sbom.sha256sums_of(files.values()))
    wheel = next(p for p in copy.iterdir() if p.suffix == ".whl")
    wheel.write_bytes(wheel.read_bytes() + b"tampered")
    tampered = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=copy, capture_output=True, text=True)
    assert tampered.returncode == 1 and f"{wheel.name}: FAILED" in tampered.stdout


@pytest.mark.parametrize("name", ["../evil.whl", "a/b.whl", "x\ny.whl", ".hidden", "back\\slash.whl", ""])
def test_sha256sums_refuses_a_name_that_is_not_a_bare_file_name(name: str) -> None:
    with pytest.raises(IntegrityError, match="not a bare file name"):
        sbom.sha256sums({name: "0" * 64})


def test_sha256sums_refuses_a_hash_that_is_not_sha256_hex() -> None:
    with pytest.raises(IntegrityError, match="is not SHA-256 hex"):
        sbom.sha256sums({"a-1.0.tar.gz": "md5:abc"})


# --- SBOMs inside wheels (PEP 770) -------------------------------------------------------

NAME = "demo-pkg"


def _record_line(arcname: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{arcname},sha256={digest},{len(data)}"


def with_sbom(folder: Path, document: bytes | dict[str, Any], *, member: str = "demo.cdx.json",
              recorded: bool = True, version: str = "1.0") -> Path:
    """A distfactory wheel with one SBOM in its .dist-info/sboms/, listed in RECORD or not."""
    source = make_wheel(folder, NAME, version, "py3-none-any")
    data = document if isinstance(document, bytes) else json.dumps(document).encode()
    info = f"demo_pkg-{version}.dist-info"
    arcname = f"{info}/sboms/{member}"
    with zipfile.ZipFile(source) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    if recorded:
        record = members[f"{info}/RECORD"].decode().splitlines()
        members[f"{info}/RECORD"] = "\n".join([*record[:-1], _record_line(arcname, data), record[-1]]).encode() + b"\n"
    rebuilt = folder / "out" / source.name
    rebuilt.parent.mkdir(exist_ok=True)
    with zipfile.ZipFile(rebuilt, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
        archive.writestr(arcname, data)
    return rebuilt


def cyclonedx(name: str = NAME, version: str = "1.0", purl: str | None = None) -> dict[str, Any]:
    component = {"type": "library", "name": name, "version": version, **({"purl": purl} if purl else {})}
    return {"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1, "metadata": {"component": component},
            "components": []}


def spdx(name: str, version: str) -> dict[str, Any]:
    return {"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT", "name": "demo", "dataLicense": "CC0-1.0",
            "documentDescribes": ["SPDXRef-root"],
            "packages": [{"SPDXID": "SPDXRef-root", "name": name, "versionInfo": version, "externalRefs": [
                {"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                 "referenceLocator": f"pkg:pypi/{name}@{version}"}]}]}


def findings_of(wheel: Path, limits: Limits = DEFAULT_LIMITS) -> list[tuple[str, str, str]]:
    """Every finding of every upload-rule family on `wheel` (the sboms family registered among them)."""
    found = Findings()
    rules.check(wheel, found, limits)
    return [(f.code, f.severity, f.message) for f in found.items]


GOOD = {
    "auditwheel's root: the wheel itself": cyclonedx(
        purl="pkg:pypi/demo-pkg@1.0?file_name=demo_pkg-1.0-py3-none-any.whl"),
    "the project spelled otherwise": cyclonedx("Demo_Pkg", "1.0.0", "pkg:pypi/demo-pkg@1.0.0"),
    "a root with no PURL": cyclonedx(),
    "a Rust crate's root, its own version": cyclonedx("demo-rust", "0.1.0", "pkg:cargo/demo-rust@0.1.0"),
    "a vendored library, no PURL": cyclonedx("openssl", "3.5.0"),
    "no root at all": {"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1, "components": []},
    "SPDX 2.3": spdx("demo-pkg", "1.0"),
}


@pytest.mark.parametrize("document", GOOD.values(), ids=GOOD.keys())
def test_a_good_in_wheel_sbom_draws_no_finding(tmp_path: Path, document: dict[str, Any]) -> None:
    assert findings_of(with_sbom(tmp_path, document)) == []


def test_the_sbom_codes_are_warnings_by_default() -> None:
    assert {c: CHECKS[c].severity for c in ("WS681", "WS682", "WS683")} == dict.fromkeys(
        ("WS681", "WS682", "WS683"), "warning")


BAD = {
    "not JSON": (b'{"bomFormat": "CycloneDX", ', "WS681", "sboms/demo.cdx.json is not JSON"),
    "not UTF-8": (b"\xff\xfe\x00{", "WS681", "is not UTF-8"),
    "JSON of another kind": ({"hello": "world"}, "WS681", "neither CycloneDX"),
    "a root of another version": (cyclonedx(version="0.9"), "WS683",
                                  "its root is demo-pkg 0.9, but the wheel is demo_pkg 1.0"),
    "a PyPI root of another project": (cyclonedx(purl="pkg:pypi/other@1.0"), "WS683",
                                       "its root is pkg:pypi/other@1.0, another project"),
    "an SPDX root of another version": (spdx("demo-pkg", "2.0"), "WS683", "its root is demo-pkg 2.0"),
}


@pytest.mark.parametrize(("document", "code", "says"), BAD.values(), ids=BAD.keys())
def test_a_bad_in_wheel_sbom_is_a_warning_naming_the_member(tmp_path: Path, document: Any, code: str,
                                                            says: str) -> None:
    found = findings_of(with_sbom(tmp_path, document))
    assert [(c, s) for c, s, _ in found] == [(code, "warning")]
    assert says in found[0][2] and "demo_pkg-1.0.dist-info/sboms/demo.cdx.json" in found[0][2]


def test_an_sbom_missing_from_record_is_a_warning(tmp_path: Path) -> None:
    found = findings_of(with_sbom(tmp_path, cyclonedx(), recorded=False))
    assert [(c, s) for c, s, _ in found] == [("WS682", "warning")]
    assert "demo_pkg-1.0.dist-info/sboms/demo.cdx.json is not listed in demo_pkg-1.0.dist-info/RECORD" in found[0][2]


def test_an_sbom_over_the_metadata_limit_is_not_read(tmp_path: Path) -> None:
    document = {**cyclonedx(version="0.9"), "padding": "x" * 5000}
    found = findings_of(with_sbom(tmp_path, document), Limits(metadata_size=4096))
    assert [(c, s) for c, s, _ in found] == [("WS681", "warning")]
    assert "over the 4.0 KiB [limits] metadata-size, so it was not read" in found[0][2]


def test_an_sbom_nested_thousands_deep_is_a_finding_not_a_crash(tmp_path: Path) -> None:
    found = findings_of(with_sbom(tmp_path, b"[" * 100_000 + b"]" * 100_000))
    assert [c for c, _, _ in found] == ["WS681"]
