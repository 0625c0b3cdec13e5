#!/usr/bin/env bash
# Story: PKCS#1 v1.5 decryption with a token key gives an attacker no
# padding oracle. A ciphertext with a bad padding decrypts, like a good one,
# with exit status 0 and nothing on the error output, to a synthetic
# plaintext (implicit rejection, as OpenSSL 3.2 and later do): the same in
# every process, different for another ciphertext, no longer than a v1.5
# message can be. An application that asks for explicit rejection
# (implicit-rejection = 0, as with OpenSSL's provider) is told. The
# plaintext of a good ciphertext is the message.
# shellcheck source=keys_lib.sh disable=SC2317,SC2016
. "$(dirname "$0")/keys_lib.sh"

make_token ca
make_key ca rsa:2048 01 dec
require
save_token_pubkey ca 01 dec.pub.pem
plain_openssl rand -out m100 100
plain_openssl pkeyutl -encrypt -pubin -inkey dec.pub.pem -in m100 -out good.enc

# raw_block NAME : a 256-byte block with bad v1.5 padding, encrypted raw.
raw_block() {
    plain_openssl pkeyutl -encrypt -pubin -inkey dec.pub.pem -pkeyopt rsa_padding_mode:none \
        -in "$1.block" -out "$1.enc"
}
# signature padding (00 01 ff.. 00 m); no separator (00 02 then no zero);
# a separator too early (00 02, four padding bytes, 00, m)
{ printf '\000\001'; head -c 221 /dev/zero | tr '\000' '\377'; printf '\000'; head -c 32 m100; } \
    >type1.block
{ printf '\000\002'; head -c 254 /dev/zero | tr '\000' '\021'; } >nozero.block
{ printf '\000\002\021\021\021\021\000'; head -c 249 /dev/zero | tr '\000' '\042'; } >short.block
for b in type1 nozero short; do
    raw_block $b
done

# decrypt NAME RUN : one process decrypts NAME.enc into NAME.RUN.dec.
decrypt() {
    expect_success hsm_openssl pkeyutl -decrypt -inkey "$(key_uri ca dec)" -in "$1.enc" \
        -out "$1.$2.dec" &&
        check "$1, process $2: nothing on the error output" test ! -s "$LAST_ERR"
}

decrypt good 1
check "the good ciphertext gives the message" cmp -s m100 good.1.dec
for b in type1 nozero short; do
    decrypt $b 1
    decrypt $b 2
    check "$b: both processes give the same synthetic plaintext" cmp -s $b.1.dec $b.2.dec
    check "$b: at most 245 bytes, as any v1.5 message of a 2048-bit key" \
        test "$(stat -c %s $b.1.dec)" -le 245
done
check "two bad ciphertexts give two different plaintexts" bash -c '! cmp -s type1.1.dec nozero.1.dec'
check "... and a third another" bash -c '! cmp -s nozero.1.dec short.1.dec'
check "a synthetic plaintext is not the block's message" \
    bash -c '! cmp -s <(tail -c 249 short.block) short.1.dec'

# Explicit rejection, asked for by name (OpenSSL 3.2's parameter).
expect_failure_with --any-file "padding is not valid" hsm_openssl pkeyutl -decrypt \
    -inkey "$(key_uri ca dec)" -pkeyopt implicit-rejection:0 -in type1.enc -out x.dec
check "explicit rejection writes no plaintext" test ! -s x.dec
expect_success hsm_openssl pkeyutl -decrypt -inkey "$(key_uri ca dec)" \
    -pkeyopt implicit-rejection:0 -in good.enc -out good.explicit.dec &&
    check "explicit rejection still decrypts a good ciphertext" cmp -s m100 good.explicit.dec
finish
