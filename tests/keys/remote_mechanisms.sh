#!/usr/bin/env bash
# Story: the token is remote (SoftHSMv2 behind `p11-kit server`, the
# provider on p11-kit-client.so), and p11-kit's RPC does not carry every
# mechanism: CKM_EDDSA in neither 0.24 (Debian 12) nor 0.25 (Debian 13),
# CKM_ECDH1_DERIVE not in 0.24 and carried since 0.25.0 (p11-kit commit
# d07a8ff, "Add support for serializing CK_ECDH1_DERIVE_PARAMS"). What the
# token cannot do through it fails with an error naming the mechanism and
# the token, writes nothing, and never crashes; what it can do (ECDSA, RSA,
# and ECDH where carried) works and is checked with plain OpenSSL.
# shellcheck source=keys_lib.sh disable=SC2317
. "$(dirname "$0")/keys_lib.sh"
# shellcheck source=../integration/p11kit_server.sh
. "$(dirname "$0")/../integration/p11kit_server.sh"
p11kit_server_available || finish

make_token rt
expect_success p11 rt --login --pin "$USER_PIN" --keypairgen --key-type EC:edwards25519 \
    --id 01 --label ed
make_key rt EC:prime256v1 02 ec
make_key rt rsa:2048 03 rsa
require
save_token_pubkey rt 02 ec.pem
save_token_pubkey rt 03 rsa.pem
write_provider_cnf remote.cnf "pkcs11-module-path=$P11KIT_CLIENT"
p11kit_server_start rt
printf 'remote token' >data
plain_openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out peer.key 2>/dev/null
plain_openssl pkey -in peer.key -pubout -out peer.pub

# What the remote token can do.
for k in ec rsa; do
    expect_success cnf_openssl remote.cnf dgst -sha256 -sign "$(key_uri rt $k)" -out $k.sig data &&
        expect_success plain_openssl dgst -sha256 -verify $k.pem -signature $k.sig data
done

# EdDSA: the key cannot even prove possession, so it is not handed out.
expect_failure_with --any-file "CKM_EDDSA" cnf_openssl remote.cnf pkeyutl -sign -rawin \
    -inkey "$(key_uri rt ed)" -in data -out ed.sig
assert_output_contains "token 'rt'"
assert_output_contains "the token does not offer this mechanism"
check "no EdDSA signature file" test ! -s ed.sig

expect_success plain_openssl pkeyutl -derive -inkey peer.key -peerkey ec.pem -out peer.secret
p11kit=$(pkg-config --modversion p11-kit-1)
if version_at_least p11-kit-1 0.25.0; then
    # ECDH is carried: the remote token's secret is the peer's.
    expect_success cnf_openssl remote.cnf pkeyutl -derive -inkey "$(key_uri rt ec)" \
        -peerkey peer.pub -out secret &&
        check "p11-kit $p11kit: the remote token's shared secret equals the peer's" \
            cmp -s secret peer.secret
else
    # ECDH is not carried: the mechanism is named, no secret is written.
    expect_failure_with --any-file "CKM_ECDH1_DERIVE" cnf_openssl remote.cnf pkeyutl -derive \
        -inkey "$(key_uri rt ec)" -peerkey peer.pub -out secret
    assert_output_contains "token 'rt'"
    check "p11-kit $p11kit: no shared secret file" test ! -s secret
fi

# The same operations on the token directly work: the refusals above are the
# remote path's, not the key's.
expect_success hsm_openssl pkeyutl -derive -inkey "$(key_uri rt ec)" -peerkey peer.pub \
    -out direct.secret &&
    check "directly, the token's shared secret equals the peer's" cmp -s direct.secret peer.secret
finish
