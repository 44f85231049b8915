# Shared by scripts/demo, scripts/test and friends: install what is missing, configure, build.
# Sourced, not run. Debian 12 (bookworm); installs need root.

PTBSTEER_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# Debian's interpreter: it has python3-scapy; a python3 earlier on PATH (pyenv, venv) may not.
PY=/usr/bin/python3

# Everything the build, the tests and the demo use, all from Debian's archive.
PTBSTEER_PACKAGES=(
    g++ clang libclang-rt-14-dev clang-format meson ninja-build pkg-config
    libdpdk-dev dpdk dpdk-dev libyaml-cpp-dev libfmt-dev prometheus-cpp-dev catch2 libpcap-dev
    libcivetweb-dev
    nlohmann-json3-dev libmnl-dev
    python3 python3-scapy iproute2 tcpdump procps prometheus curl shellcheck
    debhelper dpkg-dev systemd
)

# Only scripts/test: the routing daemons the router-sync tests run in their own namespaces.
PTBSTEER_TEST_PACKAGES=(frr bird2)

log() { printf '\033[1m== %s\033[0m\n' "$*" >&2; }

ensure_packages() { install_missing "${PTBSTEER_PACKAGES[@]}"; }
ensure_test_packages() { install_missing "${PTBSTEER_PACKAGES[@]}" "${PTBSTEER_TEST_PACKAGES[@]}"; }

# install_missing PACKAGE...: installs those not installed yet.
install_missing() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "missing Debian packages: ${missing[*]}; run as root or: sudo apt-get install --no-install-recommends ${missing[*]}" >&2
        exit 1
    fi
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # A fresh machine may never have fetched the package lists.
    if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/ptbsteer-apt.log 2>&1; then
        apt-get update -q >>/tmp/ptbsteer-apt.log 2>&1
        apt-get install -y -q --no-install-recommends "${missing[@]}" >>/tmp/ptbsteer-apt.log 2>&1 ||
            { tail -20 /tmp/ptbsteer-apt.log >&2; exit 1; }
    fi
    for p in "${missing[@]}"; do
        case $p in frr) stop_service frr ;; bird2) stop_service bird ;; esac
    done
}

# Debian's frr and bird2 start their daemons in the root namespace on install. The tests start
# their own, with their own paths, in namespaces; a root zebra would also own the root's routes.
# So a service this script just installed is stopped and kept from starting at boot.
stop_service() {
    log "stopping and disabling the $1 service it installed (tests run their own in namespaces)"
    if [ -d /run/systemd/system ]; then
        systemctl disable --now "$1" >/dev/null 2>&1 || true
    else
        invoke-rc.d "$1" stop >/dev/null 2>&1 || true
        update-rc.d "$1" disable >/dev/null 2>&1 || true
    fi
}

# build DIR [meson options...]: configure once, then build incrementally.
build() {
    local dir=$1; shift
    if [ ! -f "$PTBSTEER_ROOT/$dir/build.ninja" ]; then
        log "configuring $dir"
        meson setup "$PTBSTEER_ROOT/$dir" "$PTBSTEER_ROOT" "$@" >/dev/null
    fi
    log "building $dir"
    ninja -C "$PTBSTEER_ROOT/$dir" >/dev/null || ninja -C "$PTBSTEER_ROOT/$dir"
}
