#!/usr/bin/env bash
# Install the Debian 12 packages wsprobe needs to build and test. As root it installs what is
# missing (apt-get); otherwise it prints the apt-get line and fails. Idempotent and quiet when
# everything is present.
set -euo pipefail

BUILD_PKGS="gcc meson ninja-build pkg-config libuv1-dev libc-ares-dev libssl-dev libjansson-dev
libyaml-dev libxml2-dev zlib1g-dev libpcre2-dev libcmocka-dev libcrypt-dev"
# make deb: the build packages and the packaging tools, without the test peers
PKG_PKGS="debhelper lintian dpkg-dev"
TEST_PKGS="clang-14 libclang-rt-14-dev clang-format python3 python3-websockets python3-jwt
python3-pytest python3-pytest-xdist python3-yaml python3-cryptography python3-jsonschema nginx-light
dnsmasq-base openssl iproute2 procps libxml2-utils curl cmake haproxy websocketd
libwebsockets-test-server chromium tinyproxy microsocks stunnel4 prometheus apache2-utils
prometheus-blackbox-exporter zsh fish man-db groff-base $PKG_PKGS"

want="$BUILD_PKGS"
case "${1:-}" in
--build-only) ;;
--package) want="$want $PKG_PKGS" ;;
*) want="$want $TEST_PKGS" ;;
esac

missing=()
for p in $want; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$st" = "install ok installed" ] || missing+=("$p")
done
# Node.js for the npm 'ws' peer: keep the machine's own node if it has one.
if [ -z "${1:-}" ] && ! command -v node >/dev/null 2>&1; then
    missing+=(nodejs npm)
fi

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "wsprobe: missing packages; run as root:" >&2
    echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
    exit 1
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
# policy-rc.d keeps the nginx package from starting a system nginx on port 80.
trap 'rm -f /usr/sbin/policy-rc.d' EXIT
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
chmod +x /usr/sbin/policy-rc.d
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
