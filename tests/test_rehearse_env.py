"""What a rehearsed workflow's jobs see of the maintainer's environment: nothing but what
act, the stand-ins and the builders need. The real `act` runs a one-job workflow through
the rehearsal's own command and environment; no sandbox is needed for that."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from pipeline.rehearsal import act, environment

#: The caller's variables no job may see: an index password, a token, anything at all.
CALLERS = {"TWINE_PASSWORD": "pypi-" + "AgEIcHlwaS5vcmc-not-real", "PYPI_API_TOKEN": "pypi-also-not-real",
           "MY_SECRET_THING": "hunter2", "AWS_SECRET_ACCESS_KEY": "not-real-either", "GH_TOKEN": "ghp_not_real"}
#: Variables a maintainer's checkout holds in the files act reads by default.
CHECKOUT = {".env": "DOTENV_SECRET", ".secrets": "SECRETS_FILE_SECRET", ".vars": "VARS_FILE_VALUE"}

WORKFLOW = """\
on: push
jobs:
  look:
    runs-on: ubuntu-latest
    steps:
      - name: say which variables are set, never their values
        run: |
          for name in {names}; do
            if [ -n "${{!name+x}}" ]; then echo "seen $name"; else echo "unset $name"; fi
          done
          echo "home $HOME"
          echo "vars ${{{{ vars.VARS_FILE_VALUE }}}} secrets ${{{{ secrets.SECRETS_FILE_SECRET }}}}"
          python3 -c "print('python runs')"
"""


def _repository(tmp_path: Path) -> tuple[Path, Path]:
    """A git repository with one workflow, and the files act would read from a checkout."""
    repo = tmp_path / "repo"
    (repo / ".github" / "workflows").mkdir(parents=True)
    workflow = repo / ".github" / "workflows" / "look.yml"
    names = " ".join([*CALLERS, "DOTENV_SECRET", "SECRETS_FILE_SECRET", "VARS_FILE_VALUE", "PATH", "LANG"])
    workflow.write_text(WORKFLOW.format(names=names))
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@invalid", "-c", "init.defaultBranch=main"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    subprocess.run([*git, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "look"], cwd=repo, check=True)
    for filename, name in CHECKOUT.items():  # untracked, as a gitignored .env is
        (repo / filename).write_text(f"{name}=from-the-checkout\n")
    return repo, workflow


@pytest.fixture
def caller(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANG", "C.UTF-8")
    for name, value in CALLERS.items():
        monkeypatch.setenv(name, value)


def test_a_job_sees_none_of_the_callers_variables(tmp_path, caller):
    repo, workflow = _repository(tmp_path)
    folder = tmp_path / "rehearsal"
    folder.mkdir()
    (folder / "event.json").write_text(json.dumps({"ref": "refs/heads/main"}))
    command = act.act_base(act.find_act(), "push", workflow, folder / "event.json", folder)
    seen = act.run_act(command, repo, folder / "act.log", environment.act_env(folder))
    assert seen.results == {("look", ""): "success"}, (folder / "act.log").read_text()
    said = "\n".join(seen.lines[("look", "")])
    for name in [*CALLERS, *CHECKOUT.values()]:
        assert f"unset {name}" in said, name
    assert "vars  secrets\n" in said  # neither .vars nor .secrets was read: both are empty
    for value in CALLERS.values():
        assert value not in (folder / "act.log").read_text()
    assert "seen PATH" in said and "seen LANG" in said and "python runs" in said
    assert f"home {folder / 'home'}" in said


def test_the_environment_is_an_allow_list(tmp_path, caller, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt")
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    monkeypatch.setenv("CIBW_BUILD", "cp3*")  # the maintainer's shell settings stay in the shell, as on GitHub
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("HTTP_PROXY", "http://me:hunter2@proxy.invalid:3128")  # a password: left out
    env = environment.act_env(tmp_path)
    named = {*environment.PASSED_ENV, *environment.PROXY_ENV, *environment.FIXED_ENV, *environment.XDG_FOLDERS,
             "HOME", "PYENV_ROOT", "UV_PYTHON_INSTALL_DIR", "UV_CACHE_DIR", "WHEELSHIP_CACHE", "XDG_RUNTIME_DIR"}
    assert set(env) - named == {"LC_ALL"}
    assert env["SSL_CERT_FILE"] == "/etc/ssl/certs/ca-certificates.crt"
    assert env["HTTPS_PROXY"] == "http://proxy.invalid:3128" and "HTTP_PROXY" not in env
    assert "hunter2" not in "".join(env.values())
    assert env["HOME"] == str(tmp_path / "home")
    for name in environment.XDG_FOLDERS:
        assert Path(env[name]).is_dir() and Path(env[name]).is_relative_to(tmp_path / "home")


def test_rootless_podman_is_told_where_its_images_are():
    store = {"graphDriverName": "overlay", "graphRoot": "/home/m/.local/share/containers/storage",
             "runRoot": "/run/user/1000/containers",
             "graphOptions": {"overlay.mount_program": {"Executable": "/usr/bin/fuse-overlayfs"}}}
    import tomllib

    conf = tomllib.loads(environment.storage_conf(store))
    assert conf["storage"]["graphroot"] == "/home/m/.local/share/containers/storage"
    assert conf["storage"]["runroot"] == "/run/user/1000/containers"
    assert conf["storage"]["driver"] == "overlay"
    assert conf["storage"]["options"]["overlay"]["mount_program"] == "/usr/bin/fuse-overlayfs"


def test_the_rehearsal_command_reads_no_file_of_the_checkout(tmp_path):
    command = act.act_base("act", "push", tmp_path / "w.yml", tmp_path / "e.json", tmp_path)
    for flag in ("--env-file", "--secret-file", "--var-file"):
        given = Path(command[command.index(flag) + 1])
        assert given.is_file() and given.read_text() == "" and given.is_relative_to(tmp_path)
