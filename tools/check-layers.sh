#!/usr/bin/env bash
# The layer rule of STYLE.md, made mechanical (zstd's written dependency rule):
#   cli -> core -> mirror -> {sources, stores, notify} -> {io, net} -> util;  config -> util
# (the mirror drives the S3 client of stores/ directly: it needs requests in flight by the dozen)
# A layer may include its own headers and those of any layer below it. core sees stores/store.h only,
# never a particular store. Each third-party library header is included by exactly one file.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

rank() {
    case $1 in
    util) echo 0 ;;
    io | net) echo 1 ;;
    config) echo 1 ;;
    sources | stores | notify) echo 2 ;;
    mirror) echo 3 ;;
    core) echo 4 ;;
    cli) echo 5 ;;
    *) echo 9 ;;
    esac
}

pass=0
fail=0
bad() {
    echo "FAIL $*"
    fail=$((fail + 1))
}

while IFS= read -r file; do
    layer=$(cut -d/ -f2 <<<"$file")
    while IFS= read -r inc; do
        target=$(cut -d/ -f1 <<<"$inc")
        [ "$target" = "$layer" ] && continue
        [ "$target" = permafrost_version.h ] && continue
        lr=$(rank "$layer")
        tr=$(rank "$target")
        if [ "$tr" -ge "$lr" ] && [ "$layer" != main.c ]; then
            bad "$file includes \"$inc\": layer '$layer' may not depend on '$target'"
            continue
        fi
        # config is a side branch: only util below it, and only core/cli above it.
        if [ "$target" = config ] && [ "$lr" -lt 4 ]; then
            bad "$file includes \"$inc\": only core and cli may use config"
            continue
        fi
        if [ "$layer" = config ] && [ "$target" != util ]; then
            bad "$file includes \"$inc\": config may depend on util only"
            continue
        fi
        if [ "$layer" = core ] && [ "$target" = stores ] && [ "$inc" != stores/store.h ]; then
            bad "$file includes \"$inc\": core sees stores/store.h only"
            continue
        fi
    done < <(grep -hoE '^#include "[^"]+"' "$file" | sed -E 's/#include "(.*)"/\1/')
    pass=$((pass + 1))
done < <(git ls-files 'src/*/*.c' 'src/*/*.h' 2>/dev/null; git ls-files -o --exclude-standard 'src/*/*.c' 'src/*/*.h' 2>/dev/null)

# One wrapper file per third-party library.
# check_wrapper HEADER-REGEX FILE...: only the listed files may include the header.
check_wrapper() {
    local header=$1
    shift
    local users u ok a
    users=$(grep -rlE "#include <$header" src | sort -u)
    for u in $users; do
        ok=0
        for a in "$@"; do
            [ "$u" = "$a" ] && ok=1
        done
        if [ "$ok" = 0 ]; then
            bad "$u includes <$header>: only $* may"
        fi
    done
    pass=$((pass + 1))
}
check_wrapper 'zstd\.h' src/io/zstd_filter.c
# libcrypto for digests, libssl for the Redis client's TLS
check_wrapper 'openssl/' src/io/digest.c src/net/conn.c
check_wrapper 'expat\.h' src/stores/s3_xml.c
check_wrapper 'sqlite3\.h' src/core/catalog.c
check_wrapper 'libpq-fe\.h' src/sources/pg.c
check_wrapper 'jansson\.h' src/core/manifest.c
check_wrapper 'curl/' src/net/http.c
check_wrapper 'sodium' src/io/age.c

echo "layers: $pass passed, $fail failed"
[ "$fail" = 0 ]
