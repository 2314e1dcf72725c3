#!/bin/sh
# Installs, from Debian 12's apt repositories, every package that building, testing, linting and the demo
# need. Idempotent: packages already present are not touched, and nothing is fetched when all are there.
# Run as root (CI runs as root); otherwise it only reports what is missing.
set -eu

PACKAGES="
build-essential meson ninja-build pkg-config
clang clang-tidy clang-format shellcheck
libzstd-dev libpq-dev libsqlite3-dev libssl-dev libjansson-dev libcurl4-openssl-dev libexpat1-dev libsodium-dev zlib1g-dev
postgresql-15 postgresql-client-15
zstd sqlite3 util-linux procps python3 time openssl age
python3-aiosmtpd python3-prometheus-client systemd
redis-server redis-tools
radosgw ceph-mon ceph-osd ceph-common rclone s3cmd
"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    echo "install-deps: all packages present"
    exit 0
fi

if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing packages:$missing" >&2
    echo "hint: run 'sudo tools/install-deps.sh' or install them with apt-get" >&2
    exit 1
fi

echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086 # word splitting of the package list is intended
apt-get install -y -q --no-install-recommends $missing
