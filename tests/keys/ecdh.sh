#!/usr/bin/env bash
# Story: ECDH key agreement between a key on the token and a software peer:
# `openssl pkeyutl -derive -inkey pkcs11:... -peerkey peer.pem`. For P-256
# and P-384 the token's shared secret equals the one plain OpenSSL derives
# on the peer's side (the peer's private key with the token's public key,
# read by pkcs11-tool), and differs for another peer. A peer on another
# curve, or of another kind, is refused; so is a key the token marks
# CKA_DERIVE false.
# shellcheck source=keys_lib.sh disable=SC2317,SC2016 # functions are run through _run
. "$(dirname "$0")/keys_lib.sh"

make_token ca
make_key ca EC:prime256v1 01 ecdh256
make_key ca EC:secp384r1 02 ecdh384
expect_success p11 ca --login --pin "$USER_PIN" --keypairgen --key-type EC:prime256v1 \
    --id 03 --label sign-only --usage-sign
require
save_token_pubkey ca 01 ecdh256.token.pub
save_token_pubkey ca 02 ecdh384.token.pub

for c in P-256:ecdh256:32 P-384:ecdh384:48; do
    IFS=: read -r curve label size <<<"$c"
    for peer in a b; do
        plain_openssl genpkey -algorithm EC -pkeyopt "ec_paramgen_curve:$curve" \
            -out "peer-$label-$peer.key" 2>/dev/null
        plain_openssl pkey -in "peer-$label-$peer.key" -pubout -out "peer-$label-$peer.pub"
        expect_success hsm_openssl pkeyutl -derive -inkey "$(key_uri ca "$label")" \
            -peerkey "peer-$label-$peer.pub" -out "$label-$peer.token.secret" || continue
        check "$label with peer $peer: a $size-byte secret" \
            test "$(stat -c %s "$label-$peer.token.secret")" -eq "$size"
        expect_success plain_openssl pkeyutl -derive -inkey "peer-$label-$peer.key" \
            -peerkey "$label.token.pub" -out "$label-$peer.peer.secret" &&
            check "$label with peer $peer: the token's secret equals the peer's" \
                cmp -s "$label-$peer.token.secret" "$label-$peer.peer.secret"
    done
    check "$label: two peers give two different secrets" \
        bash -c '! cmp -s "$1" "$2"' _ "$label-a.token.secret" "$label-b.token.secret"
    # deriving again with the same peer gives the same secret
    expect_success hsm_openssl pkeyutl -derive -inkey "$(key_uri ca "$label")" \
        -peerkey "peer-$label-a.pub" -out "$label-a.again" &&
        check "$label: the same peer gives the same secret again" \
            cmp -s "$label-a.token.secret" "$label-a.again"
done

# ------------------------------------------------------------- refusals
expect_failure_with --any-file "the peer key is not on the same curve" \
    hsm_openssl pkeyutl -derive -inkey "$(key_uri ca ecdh256)" -peerkey peer-ecdh384-a.pub \
    -out x.secret
expect_failure_with --any-file "the peer key is not on the same curve" \
    hsm_openssl pkeyutl -derive -inkey "$(key_uri ca ecdh384)" -peerkey peer-ecdh256-a.pub \
    -out x.secret
check "no secret for a peer on another curve" test ! -s x.secret
plain_openssl genpkey -algorithm X25519 -out x25519.key 2>/dev/null
plain_openssl pkey -in x25519.key -pubout -out x25519.pub
expect_failure_with --any-file "peer key" \
    hsm_openssl pkeyutl -derive -inkey "$(key_uri ca ecdh256)" -peerkey x25519.pub -out x.secret
check "no secret for an X25519 peer" test ! -s x.secret
expect_failure_with --any-file "CKA_DERIVE false" \
    hsm_openssl pkeyutl -derive -inkey "$(key_uri ca sign-only)" -peerkey peer-ecdh256-a.pub \
    -out x.secret && assert_output_contains "object=sign-only"
check "no secret from a key without CKA_DERIVE" test ! -s x.secret

finish
