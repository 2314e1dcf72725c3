# shellcheck shell=bash
# tests/lib/age.sh: helpers for the age encryption tests (tests/integration/t_age_*.sh) and the
# benchmark. Source it after tests/lib/servers.sh and tests/lib/assert.sh.
#
#   age_init_tools       checks Debian's age/age-keygen and python3 are there; sets AGE_TOOL to the
#                        test program build/tests/tools/age_tool next to $PERMAFROST (or $AGE_TOOL
#                        when set) - empty when it was not built - and AGE_PYTHON to the system
#                        python3 when there is one (a pyenv shim takes seconds to start).
#   age_pty PASSFILE [--prompts N] -- CMD...   run CMD under a pseudo-terminal, typing the passphrase
#                        (first line of PASSFILE) at each passphrase prompt (tests/lib/age_pty.py;
#                        CMD must use files: `age -p -o OUT IN`).
#   age_header_len FILE  bytes of the header, through the newline after "--- MAC".
#   age_payload_start FILE   offset of the first chunk (header + 16-byte nonce).
#   age_chunk_offset FILE K  offset of chunk K (0-based; 64 KiB + 16 bytes each).
#   age_flip_byte FILE OFFSET  XOR the byte at OFFSET with 0x01, in place.
#   age_cut FILE LEN     truncate FILE to LEN bytes.
#   age_set_scrypt_logn IN OUT N  copy IN (a passphrase file) to OUT with the work factor of its
#                        scrypt stanza set to N (the MAC no longer matches; a decryptor must refuse
#                        the work factor before it runs scrypt or checks the MAC).
#   age_make_input FILE SIZE  SIZE bytes of random data (head -c from /dev/urandom).
#   age_sizes            the plaintext sizes of the interop matrix (0 1 64Ki-1 64Ki 64Ki+1 128Ki 1e6).

AGE_CHUNK=65536
AGE_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

age_init_tools()
{
    local t
    for t in age age-keygen python3 zstd; do
        command -v "$t" >/dev/null || fail "'$t' is missing (apt-get install age zstd python3)"
    done
    AGE_PYTHON=python3
    [[ -x /usr/bin/python3 ]] && AGE_PYTHON=/usr/bin/python3
    export AGE_PYTHON
    if [[ -z ${AGE_TOOL:-} ]]; then
        AGE_TOOL=""
        if [[ -n ${PERMAFROST:-} && -x $(dirname "$PERMAFROST")/tests/tools/age_tool ]]; then
            AGE_TOOL=$(dirname "$PERMAFROST")/tests/tools/age_tool
        fi
    fi
    export AGE_TOOL
}

age_pty()
{
    local passfile=$1
    shift
    local opts=()
    while [[ $1 != -- ]]; do
        opts+=("$1")
        shift
    done
    shift
    "${AGE_PYTHON:-python3}" "$AGE_LIB_DIR/age_pty.py" "${opts[@]}" "$passfile" -- "$@"
}

age_header_len()
{
    "${AGE_PYTHON:-python3}" - "$1" <<'PY'
import sys
data = open(sys.argv[1], "rb").read(1 << 21)
pos = 0
while True:
    end = data.find(b"\n", pos)
    if end < 0:
        sys.exit("no end of header in %s" % sys.argv[1])
    if data.startswith(b"--- ", pos):
        print(end + 1)
        break
    pos = end + 1
PY
}

age_payload_start()
{
    echo $(($(age_header_len "$1") + 16))
}

age_chunk_offset()
{
    echo $(($(age_payload_start "$1") + $2 * (AGE_CHUNK + 16)))
}

age_flip_byte()
{
    "${AGE_PYTHON:-python3}" - "$1" "$2" <<'PY'
import sys
path, off = sys.argv[1], int(sys.argv[2])
with open(path, "r+b") as f:
    f.seek(off)
    b = f.read(1)
    if len(b) != 1:
        sys.exit("offset %d is past the end of %s" % (off, path))
    f.seek(off)
    f.write(bytes([b[0] ^ 1]))
PY
}

age_cut()
{
    truncate -s "$2" "$1"
}

age_set_scrypt_logn()
{
    "${AGE_PYTHON:-python3}" - "$1" "$2" "$3" <<'PY'
import re, sys
src, dst, n = sys.argv[1], sys.argv[2], sys.argv[3]
data = open(src, "rb").read()
new, count = re.subn(rb"^(-> scrypt \S+ )\d+$", rb"\g<1>" + n.encode(), data, count=1,
                     flags=re.MULTILINE)
if count != 1:
    sys.exit("no scrypt stanza in %s" % src)
with open(dst, "wb") as f:
    f.write(new)
PY
}

age_make_input()
{
    head -c "$2" /dev/urandom >"$1"
}

age_sizes()
{
    echo 0 1 65535 65536 65537 131072 1000000
}

# age_tamper_mac IN OUT: OUT is IN with one bit of the header MAC flipped (still canonical base64),
# so that only the MAC check can catch it.
age_tamper_mac()
{
    "${AGE_PYTHON:-python3}" - "$1" "$2" <<'PY'
import base64, re, sys
data = open(sys.argv[1], "rb").read()
m = re.search(rb"^--- ([A-Za-z0-9+/]{43})\n", data, flags=re.MULTILINE)
if not m:
    sys.exit("no MAC line in %s" % sys.argv[1])
mac = bytearray(base64.b64decode(m.group(1) + b"="))
mac[7] ^= 0x10
enc = base64.b64encode(bytes(mac)).rstrip(b"=")
open(sys.argv[2], "wb").write(data[: m.start(1)] + enc + data[m.end(1):])
PY
}

# age_add_stanza IN OUT: OUT is IN with an extra, syntactically valid stanza of an unknown type
# before the MAC line: the recipient stanza still opens, the MAC must not.
age_add_stanza()
{
    "${AGE_PYTHON:-python3}" - "$1" "$2" <<'PY'
import re, sys
data = open(sys.argv[1], "rb").read()
m = re.search(rb"^--- ", data, flags=re.MULTILINE)
if not m:
    sys.exit("no MAC line in %s" % sys.argv[1])
open(sys.argv[2], "wb").write(data[: m.start()] + b"-> pf-grease x\nAAAA\n" + data[m.start():])
PY
}

# age_payload_len SIZE: the bytes after the header for SIZE bytes of plaintext: the 16-byte nonce,
# the plaintext and 16 bytes of tag per 64 KiB chunk (one chunk at least; the last may be full).
age_payload_len()
{
    local n=$1 chunks
    chunks=$(((n + AGE_CHUNK - 1) / AGE_CHUNK))
    ((chunks > 0)) || chunks=1
    echo $((16 + n + 16 * chunks))
}
