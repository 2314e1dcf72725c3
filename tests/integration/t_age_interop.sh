#!/usr/bin/env bash
# age interoperability between Permafrost's filter (build/tests/tools/age_tool, io/age.c) and
# Debian's age 1.1.1: X25519 one way and the other (-r, -R, several recipients) at the sizes around
# the 64 KiB chunk boundary and at 64 MiB, byte-identical; the exact STREAM length; `permafrost
# keygen` identities read by age-keygen -y; passphrases both ways, with `age -p` under a pty; and
# the failures: flipped bytes in the header, its MAC and a payload chunk, truncation at and inside a
# chunk, trailing bytes, a wrong identity or passphrase and a scrypt work factor above 22, each
# with exit 1, a message that says what is wrong and no unauthenticated plaintext.
# timeout: 120
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib/servers.sh
. "$root/tests/lib/servers.sh"
# shellcheck source=tests/lib/assert.sh
. "$root/tests/lib/assert.sh"
# shellcheck source=tests/lib/age.sh
. "$root/tests/lib/age.sh"
test_init_dirs
[[ -n ${PERMAFROST:-} && -x $PERMAFROST ]] || fail "PERMAFROST must name the permafrost binary"
age_init_tools
[[ -n $AGE_TOOL ]] || fail "age_tool not found next to $PERMAFROST (build/tests/tools/age_tool)"
cd "$T"

# at ARGS...: age_tool with stdin/stdout redirected by the caller; the message on stderr.
at()
{
    "$AGE_TOOL" "$@"
}

step "keys: age-keygen, age_tool keygen, permafrost keygen -o and without -o"
age-keygen -o k1.txt 2>/dev/null
age-keygen -o k2.txt 2>/dev/null
r1=$(age-keygen -y k1.txt)
r2=$(age-keygen -y k2.txt)
assert_ok "$PERMAFROST" keygen -o pf.key
rpf=$OUT
assert_match "$rpf" '^age1[02-9ac-hj-np-z]{58}$' "recipient printed by permafrost keygen -o"
assert_mode pf.key 600
assert_file_contains pf.key "AGE-SECRET-KEY-1"
assert_not_contains "$OUT$ERR" "AGE-SECRET-KEY" "permafrost keygen -o output"
assert_eq "$rpf" "$(age-keygen -y pf.key)" "age-keygen -y of the permafrost identity"
cp -p pf.key pf.key.orig
assert_fails "$PERMAFROST" keygen -o pf.key
assert_ok cmp pf.key pf.key.orig
assert_ok "$PERMAFROST" keygen
printf '%s\n' "$OUT" >pf2.key
assert_contains "$OUT" "AGE-SECRET-KEY-1" "permafrost keygen without -o (identity on stdout)"
rpf2=$(age-keygen -y pf2.key) || fail "age-keygen -y refuses the identity from permafrost keygen"
assert_ne "$rpf" "$rpf2" "two keygen runs"
assert_contains "$OUT$ERR" "$rpf2" "permafrost keygen names its recipient"
at keygen >at.key 2>at.err || fail "age_tool keygen failed: $(cat at.err)"
rat=$(age-keygen -y at.key) || fail "age-keygen -y refuses the identity from age_tool keygen"
assert_match "$rat" '^age1' "recipient of the age_tool identity"
printf '%s\n%s\n' "$r1" "$rpf" >recipients.txt

step "X25519 both ways at $(age_sizes) bytes"
for n in $(age_sizes); do
    age_make_input "in.$n" "$n"
    # permafrost -> age (one recipient)
    at encrypt -r "$r1" <"in.$n" >"pf.$n.age" || fail "age_tool encrypt, $n bytes"
    assert_eq "$(($(age_header_len "pf.$n.age") + $(age_payload_len "$n")))" \
        "$(stat -c %s "pf.$n.age")" "size of the age file for $n bytes (header + STREAM)"
    age -d -i k1.txt "pf.$n.age" >"out.$n" || fail "age -d of permafrost's file, $n bytes"
    cmp "in.$n" "out.$n" || fail "age -d: plaintext differs, $n bytes"
    # permafrost -> age (two recipients: each identity opens it)
    at encrypt -r "$r1" -r "$rpf" <"in.$n" >"pf2.$n.age" || fail "age_tool encrypt -r -r, $n bytes"
    assert_eq 2 "$(grep -ac '^-> X25519 ' "pf2.$n.age")" "X25519 stanzas for two recipients"
    age -d -i pf.key "pf2.$n.age" >"out2.$n" || fail "age -d (second recipient), $n bytes"
    cmp "in.$n" "out2.$n" || fail "age -d, second recipient: plaintext differs, $n bytes"
    # age -r -> permafrost
    age -r "$r1" -o "age.$n.age" "in.$n"
    at decrypt -i k1.txt <"age.$n.age" >"out3.$n" || fail "age_tool decrypt of age -r, $n bytes"
    cmp "in.$n" "out3.$n" || fail "age_tool decrypt of age -r: plaintext differs, $n bytes"
    # age -R (a recipients file) -> permafrost, with the permafrost identity
    age -R recipients.txt -o "ageR.$n.age" "in.$n"
    at decrypt -i pf.key <"ageR.$n.age" >"out4.$n" || fail "age_tool decrypt of age -R, $n bytes"
    cmp "in.$n" "out4.$n" || fail "age_tool decrypt of age -R: plaintext differs, $n bytes"
    # age with three recipients -> permafrost with the last one's identity
    age -r "$rpf" -r "$r1" -r "$r2" -o "age3.$n.age" "in.$n"
    at decrypt -i k2.txt <"age3.$n.age" >"out5.$n" || fail "age_tool decrypt, 3 recipients, $n bytes"
    cmp "in.$n" "out5.$n" || fail "age_tool decrypt, 3 recipients: plaintext differs, $n bytes"
    rm -f "out.$n" "out2.$n" "out3.$n" "out4.$n" "out5.$n" "ageR.$n.age" "age3.$n.age"
done
printf '%s\n' "$(cat k2.txt)" "$(cat k1.txt)" >both.txt
at decrypt -i both.txt <age.1000000.age | cmp - in.1000000 ||
    fail "an identity file with two keys (the second one matches)"

step "64 MiB both ways through pipes"
age_make_input big 67108864
big_sum=$(sha256sum <big)
got=$(at encrypt -r "$r1" <big | age -d -i k1.txt | sha256sum) || fail "age_tool | age -d, 64 MiB"
assert_eq "$big_sum" "$got" "sha256 of 64 MiB through age_tool encrypt | age -d"
got=$(age -r "$rpf" <big | at decrypt -i pf.key | sha256sum) || fail "age | age_tool decrypt, 64 MiB"
assert_eq "$big_sum" "$got" "sha256 of 64 MiB through age -r | age_tool decrypt"
rm -f big

step "passphrases: age_tool -> age -d (pty), age -p (pty) -> age_tool"
pass="correct horse battery staple $(head -c 12 /dev/urandom | base64 | tr -dc 'A-Za-z0-9') é"
(umask 077 && printf '%s\n' "$pass" >pw.txt && printf '%s\n' "not the passphrase" >wrong.txt)
# scrypt at work factor 18 costs about a second and 256 MiB per file (more on a busy machine): the
# default is run once each way, the other cases use work factor 10 (age_tool -n; age reads any).
at encrypt -p pw.txt <in.65537 >pp.65537.age || fail "age_tool encrypt -p"
assert_match "$(sed -n 2p pp.65537.age)" '^-> scrypt [A-Za-z0-9+/]{22} 18$' \
    "scrypt stanza (the default work factor is 18, like age -p)"
assert_eq 1 "$(grep -ac '^-> ' pp.65537.age)" "stanzas in a passphrase file"
run age_pty pw.txt --prompts 1 -- age -d -o ppout.65537 pp.65537.age
assert_eq 0 "$RC" "age -d under a pty of a permafrost passphrase file"
cmp in.65537 ppout.65537 || fail "age -d (passphrase): plaintext differs"
# age asks twice when encrypting.
run age_pty pw.txt --prompts 2 -- age -p -o ap.65537.age in.65537
assert_eq 0 "$RC" "age -p under a pty"
at decrypt -p pw.txt <ap.65537.age >apout.65537 || fail "age_tool decrypt -p of age -p"
cmp in.65537 apout.65537 || fail "age_tool decrypt -p of age -p: plaintext differs"
for n in 0 1000000; do
    at encrypt -p pw.txt -n 10 <"in.$n" >"pp10.$n.age" || fail "age_tool encrypt -p -n 10, $n bytes"
    assert_match "$(sed -n 2p "pp10.$n.age")" ' 10$' "work factor of age_tool encrypt -n 10"
    # age -o creates its output at the first write: none for 0 bytes.
    : >"pp10out.$n"
    run age_pty pw.txt --prompts 1 -- age -d -o "pp10out.$n" "pp10.$n.age"
    assert_eq 0 "$RC" "age -d of a work factor 10 file, $n bytes"
    cmp "in.$n" "pp10out.$n" || fail "work factor 10: plaintext differs, $n bytes"
    at decrypt -p pw.txt <"pp10.$n.age" | cmp - "in.$n" || fail "age_tool round trip, $n bytes"
done

step "a wrong passphrase is rejected by both"
assert_exit 1 at decrypt -p wrong.txt <pp10.1000000.age
assert_eq "" "$OUT" "plaintext from a wrong passphrase"
assert_match "$ERR" '[Pp]assphrase' "age_tool's message for a wrong passphrase"
assert_not_contains "$ERR" "not the passphrase" "age_tool's message"
run age_pty wrong.txt --prompts 1 -- age -d -o wrongout pp10.1000000.age
assert_ne 0 "$RC" "age -d with a wrong passphrase"
assert_contains "$ERR" "incorrect passphrase" "age's message"
assert_missing wrongout

# expect_reject WHAT ERE FILE ARGS...: age_tool decrypt ARGS < FILE exits 1, says something that
# matches ERE (case-insensitive) and releases no more plaintext than the authenticated prefix of
# in.200000 (none when the header is bad); the message does not quote a secret.
expect_reject()
{
    local what=$1 ere=$2 file=$3 max=$4 got
    shift 4
    RC=0
    "$AGE_TOOL" decrypt "$@" <"$file" >rej.out 2>rej.err || RC=$?
    ERR=$(cat rej.err)
    printf '$ age_tool decrypt %s < %s  => %s\n%s\n' "$*" "$file" "$RC" "$ERR"
    [[ $RC == 1 ]] || fail "$what: exit $RC, expected 1"
    [[ -n $ERR ]] || fail "$what: no message on stderr"
    shopt -s nocasematch
    [[ $ERR =~ $ere ]] || fail "$what: message '$ERR' does not match /$ere/i"
    shopt -u nocasematch
    assert_not_contains "$ERR" "AGE-SECRET-KEY" "$what: message"
    assert_not_contains "$ERR" "$pass" "$what: message"
    got=$(stat -c %s rej.out)
    ((got <= max)) || fail "$what: released $got bytes, at most $max may be authenticated"
    cmp -n "$got" rej.out in.200000 || fail "$what: released bytes differ from the plaintext"
}

step "failures: header, MAC, payload, truncation, trailing bytes, wrong key, work factor"
age_make_input in.200000 200000 # 3 full chunks and a short last one
at encrypt -r "$r1" <in.200000 >good.age || fail "age_tool encrypt"
at decrypt -i k1.txt <good.age | cmp - in.200000 || fail "the untampered file"
hlen=$(age_header_len good.age)
c1=$(age_chunk_offset good.age 1)
c2=$(age_chunk_offset good.age 2)
header_ere='header|MAC|authenticat|identity|recipient|stanza|base64|malformed|invalid|corrupt|integrity'
cp good.age t1.age
age_flip_byte t1.age 12 # "age-encryption.org/v1" -> not an age file any more
expect_reject "version line flipped" 'age|format|header|version' t1.age 0 -i k1.txt
cp good.age t2.age
age_flip_byte t2.age 40 # inside the X25519 stanza's share
expect_reject "stanza argument flipped" "$header_ere" t2.age 0 -i k1.txt
age_tamper_mac good.age t3.age
expect_reject "header MAC flipped" 'MAC|header' t3.age 0 -i k1.txt
age_add_stanza good.age t4.age
expect_reject "stanza added to the header" 'MAC|header' t4.age 0 -i k1.txt
cp good.age t5.age
age_flip_byte t5.age $((hlen + 3)) # the payload nonce
expect_reject "payload nonce flipped" 'authenticat|chunk|payload|tamper|corrupt|integrity' t5.age 0 -i k1.txt
cp good.age t6.age
age_flip_byte t6.age $((c1 + 1000)) # chunk 1: chunk 0 may come out, nothing after it
expect_reject "byte in payload chunk 1 flipped" 'authenticat|chunk|payload|tamper|corrupt|integrity' \
    t6.age "$AGE_CHUNK" -i k1.txt
cp good.age t7.age
age_flip_byte t7.age $(($(stat -c %s good.age) - 1)) # the last chunk's tag
expect_reject "last chunk's tag flipped" 'authenticat|chunk|payload|tamper|corrupt|integrity' \
    t7.age $((3 * AGE_CHUNK)) -i k1.txt
trunc_ere='truncat|EOF|end of|final|last chunk|short|incomplete'
cp good.age t8.age
age_cut t8.age "$c2" # at a chunk boundary: chunks 0 and 1 are whole, none is marked last
expect_reject "truncated at a chunk boundary" "$trunc_ere" t8.age $((2 * AGE_CHUNK)) -i k1.txt
cp good.age t9.age
age_cut t9.age $((c2 + 5000)) # inside chunk 2
expect_reject "truncated inside a chunk" "$trunc_ere|authenticat" t9.age $((2 * AGE_CHUNK)) -i k1.txt
cp good.age t10.age
age_cut t10.age $((hlen + 8)) # inside the nonce
expect_reject "truncated inside the nonce" "$trunc_ere" t10.age 0 -i k1.txt
cp good.age t11.age
age_cut t11.age $((hlen - 10)) # inside the MAC line
expect_reject "truncated inside the header" "$trunc_ere|header" t11.age 0 -i k1.txt
cp good.age t12.age
printf 'x' >>t12.age # a byte after the final chunk
expect_reject "a byte after the final chunk" 'trailing|after|final|last|long|extra|authenticat' \
    t12.age $((3 * AGE_CHUNK)) -i k1.txt
expect_reject "wrong identity" 'identity|recipient|no .*key|match' good.age 0 -i k2.txt
expect_reject "identity on a passphrase file" 'identity|recipient|passphrase|scrypt|match' \
    ap.65537.age 0 -i k1.txt
expect_reject "passphrase on an X25519 file" 'identity|recipient|passphrase|scrypt|match' \
    good.age 0 -p pw.txt
age_set_scrypt_logn ap.65537.age wf23.age 23
expect_reject "scrypt work factor 23" 'work factor|log.?N|too (large|high|big)|cap|22' \
    wf23.age 0 -p pw.txt
# Debian's age refuses the work factor too, so the test file is what we think it is.
run age_pty pw.txt -- age -d -o /dev/null wf23.age
assert_ne 0 "$RC" "age -d of work factor 23"
assert_contains "$ERR" "work factor" "age's message for work factor 23"
run age -d -i k1.txt -o /dev/null t6.age
assert_ne 0 "$RC" "age -d of a flipped payload byte"
run age -d -i k1.txt -o /dev/null t8.age
assert_ne 0 "$RC" "age -d of a file truncated at a chunk boundary"

echo "PASS"
