"""The environment act and its jobs run in.

act's host mode hands its own environment to every job, and jobs run the project's code
(its backend, its tests, whatever its workflow's steps say). So act gets an allow-listed
environment, never this process's: a job sees none of the maintainer's tokens, TWINE_*,
cloud keys or whatever a shell profile exports. This is not isolation: a job on this host
can still read any file the maintainer can; it only stops the environment handing
credentials over, as a GitHub runner's environment holds none of them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

#: The caller's variables passed on unchanged, each for what a job needs it for.
PASSED_ENV = (
    "PATH",  # act finds bash, git and node on it; jobs find python, uv and the container engine
    "LANG", "LANGUAGE", "TZ",  # (with every LC_*) how tools decode and print text, and the time in logs
    "TMPDIR",  # where act, uv and the builders make temporary files on this host
    "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE",  # a host behind a TLS proxy: uv, pip and twine trust its CA
    "DOCKER_HOST", "CONTAINER_HOST", "CONTAINER_CONNECTION",  # where the caller's container engine listens
    "CONTAINERS_CONF", "CONTAINERS_STORAGE_CONF", "CONTAINERS_REGISTRIES_CONF",  # Podman's own configuration files
)
#: How this host reaches the network (jobs fetch build requirements; NO_PROXY keeps the
#: sandbox's loopback servers direct); passed unless the proxy's URL holds a password.
PROXY_ENV = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY", "https_proxy", "http_proxy", "all_proxy", "no_proxy")
#: Set for every job whatever the caller has: as on a GitHub runner, no keyring, which
#: twine, pip and uv would otherwise ask for an index password.
FIXED_ENV = {"PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}
#: The job's HOME is a folder of the rehearsal's; these folders are in it.
XDG_FOLDERS = {"XDG_CONFIG_HOME": ".config", "XDG_CACHE_HOME": ".cache", "XDG_DATA_HOME": ".local/share",
               "XDG_STATE_HOME": ".local/state"}


def act_env(folder: Path) -> dict[str, str]:
    """The environment act runs in, and so every job: the variables of `PASSED_ENV` and
    `PROXY_ENV`; a HOME and XDG folders of its own in the rehearsal folder (act keeps its
    cache and config there and reads no ~/.actrc, whose ``-s`` lines hold secrets; no job
    finds ~/.pypirc, ~/.netrc, ~/.aws or a pip configuration with an index password);
    the caller's folders jobs need (`_kept_folders`); what the container engine needs."""
    home = folder / "home"
    env = {name: value for name, value in os.environ.items() if name in PASSED_ENV or name.startswith("LC_")}
    env["HOME"] = str(home)
    for name, relative in XDG_FOLDERS.items():
        (home / relative).mkdir(parents=True, exist_ok=True)
        env[name] = str(home / relative)
    proxies = {name: value for name in PROXY_ENV if (value := os.environ.get(name)) and "@" not in value}
    return {**env, **proxies, **FIXED_ENV, **_kept_folders(), **_engine_env(home)}


def _kept_folders() -> dict[str, str]:
    """The caller's folders a job needs, named outright because their defaults are under
    a HOME the job does not share: the CPythons the builders find (under pyenv, and those
    uv installed), and the caches of uv and of wheelship's build frontends, which hold
    public packages only and spare a rehearsal fetching every build requirement again."""
    from pipeline.builders.local import CACHE

    data = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return {"PYENV_ROOT": os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv"),
            "UV_PYTHON_INSTALL_DIR": os.environ.get("UV_PYTHON_INSTALL_DIR") or str(data / "uv" / "python"),
            "UV_CACHE_DIR": os.environ.get("UV_CACHE_DIR") or str(cache / "uv"),
            "WHEELSHIP_CACHE": str(CACHE)}


def _engine_env(home: Path) -> dict[str, str]:
    """What a job's container engine needs to reach the caller's images from another HOME.
    Root Podman (this machine's) needs nothing: its store and configuration are system-wide."""
    from pipeline.builders.cibw import container_engine

    engine, _ = container_engine()
    if engine == "docker" and "DOCKER_HOST" not in os.environ:
        return _docker_host()
    if engine == "podman" and os.geteuid() != 0:
        return _rootless_podman(home)
    return {}


def _docker_host() -> dict[str, str]:
    """The daemon the caller's Docker context names (Docker Desktop, rootless Docker):
    a job's docker, with no ~/.docker of its own, would look for the system one."""
    found = subprocess.run(["docker", "context", "inspect", "--format", "{{.Endpoints.docker.Host}}"],
                           capture_output=True, text=True, encoding="utf-8", errors="replace")
    host = found.stdout.strip()
    return {"DOCKER_HOST": host} if found.returncode == 0 and host else {}


def _rootless_podman(home: Path) -> dict[str, str]:
    """Rootless Podman keeps its images under the caller's XDG_DATA_HOME and reads its
    configuration from XDG_CONFIG_HOME, which a job does not share. The configuration is
    copied (less auth.json, the registries' passwords), the store it uses is named in the
    job's storage.conf, and XDG_RUNTIME_DIR is passed: Podman's database records its
    runtime folder and refuses to work from another."""
    info = subprocess.run(["podman", "info", "--format", "json"], capture_output=True, text=True, encoding="utf-8", errors="replace")
    if info.returncode != 0:
        return {}
    mine = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "containers"
    theirs = home / XDG_FOLDERS["XDG_CONFIG_HOME"] / "containers"
    if mine.is_dir():
        shutil.copytree(mine, theirs, ignore=shutil.ignore_patterns("auth.json"), dirs_exist_ok=True)
    theirs.mkdir(parents=True, exist_ok=True)
    (theirs / "storage.conf").write_text(storage_conf(json.loads(info.stdout)["store"]), encoding="utf-8")
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    return {"XDG_RUNTIME_DIR": runtime} if runtime else {}


def storage_conf(store: dict[str, Any]) -> str:
    """A containers-storage.conf naming the store `podman info` reports (JSON strings are
    TOML basic strings)."""
    lines = ["[storage]", f"driver = {json.dumps(store['graphDriverName'])}",
             f"graphroot = {json.dumps(store['graphRoot'])}", f"runroot = {json.dumps(store['runRoot'])}"]
    program = ((store.get("graphOptions") or {}).get("overlay.mount_program") or {}).get("Executable")
    if program:
        lines += ["", "[storage.options.overlay]", f"mount_program = {json.dumps(program)}"]
    return "\n".join(lines) + "\n"
