#!/usr/bin/env bash
# What a typical hand-written release workflow does, step by step, on one machine:
# build the sdist, build a wheel per interpreter, repair Linux wheels, twine check,
# test each wheel in a fresh venv with pip, upload with twine.
# usage: bench_byhand.sh PROJECT DIST INDEX_URL IMPORT_NAME NATIVE(0|1); PYTHONS="path ..."
set -euo pipefail
project=$1 dist=$2 index=$3 import=$4 native=$5
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$dist" "$tmp/raw"
python -m build --sdist --outdir "$dist" "$project"
if [ "$native" = 1 ]; then
  for py in $PYTHONS; do
    "$py" -m venv "$tmp/build-env"
    "$tmp/build-env/bin/pip" install -q build
    "$tmp/build-env/bin/python" -m build --wheel --outdir "$tmp/raw" "$project"
    rm -rf "$tmp/build-env"
  done
  glibc=$(getconf GNU_LIBC_VERSION | grep -oE '[0-9]+\.[0-9]+$' | tr . _)
  auditwheel repair --plat "manylinux_${glibc}_$(uname -m)" -w "$dist" "$tmp"/raw/*.whl
else
  python -m build --wheel --outdir "$dist" "$project"
fi
twine check --strict "$dist"/*
for wheel in "$dist"/*.whl; do
  tag=$(basename "$wheel" | cut -d- -f3)
  py=python
  for candidate in $PYTHONS; do
    v=$("$candidate" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
    if [ "$v" = "$tag" ]; then py=$candidate; fi
  done
  "$py" -m venv "$tmp/test-env"
  "$tmp/test-env/bin/pip" install -q "$wheel"
  (cd "$tmp" && "$tmp/test-env/bin/python" -c "import $import")
  rm -rf "$tmp/test-env"
done
twine upload --non-interactive --disable-progress-bar --repository-url "$index" "$dist"/*
