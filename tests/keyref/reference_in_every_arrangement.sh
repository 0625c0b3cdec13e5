#!/usr/bin/env bash
# Story (issue 15, item 2): key reference files load whatever providers
# the application activates beside hsm: default alone, in either order;
# base beside default, before, between or after hsm; and base beside a
# FIPS-style set with no default provider (OpenSSL's FIPS provider where it
# is installed: Debian 13). The PIN comes from the application (-passin)
# or from the configuration (pkcs11-module-token-pin), for references of
# every key type the provider writes (RSA and EC keys made by pkcs11-tool
# and written by `openssl pkey -in URI`, Ed25519 and Ed448 keys written by
# `openssl genpkey`). Each reference declares its key type in its OID. Each
# load gives the token's public key; a signature made through each
# arrangement verifies with plain OpenSSL. A reference written before key
# types had their own arc (the bare OID) loads in each arrangement with
# the configuration's PIN (on OpenSSL 3.5 an old reference cannot get the
# application's PIN: docs/uris-and-pins.md).
# shellcheck source=keyref_lib.sh disable=SC2317
. "$(dirname "$0")/keyref_lib.sh"

make_token ca
make_key ca EC:prime256v1 01 ec
make_key ca rsa:2048 02 rsa
expect_success genkey ed25519.ref "$(gen_uri ca ed25519 %03)" ED25519
expect_success genkey ed448.ref "$(gen_uri ca ed448 %04)" ED448
require
for k in 01:ec 02:rsa 03:ed25519 04:ed448; do
    save_pubkey_by_id ca "${k%%:*}" "${k#*:}.pub.pem"
done
expect_success hsm_openssl pkey -in "$(key_uri ca ec)" -out ec.ref
expect_success hsm_openssl pkey -in "$(key_uri ca rsa)" -out rsa.ref
require
craft_reference "$(uri_of_reference ec.ref)" old-ec.ref "$REF_OID" || fail "crafting old-ec.ref"
cp ec.pub.pem old-ec.pub.pem
for k in rsa:1 ec:2 ed25519:3 ed448:4; do
    check "${k%%:*}.ref declares its key type: OID $REF_OID.${k#*:}" \
        bash -c 'plain_oid=$("$1" asn1parse -in "$2" | grep -m1 OBJECT); [[ $plain_oid == *":$3" ]]' \
        _ "$OPENSSL_BIN" "${k%%:*}.ref" "$REF_OID.${k#*:}"
done

# loads_everywhere TAG [MORE...] : each reference (and MORE.ref) loads
# through "${RUN[@]} SUBCOMMAND ... ${PIN_ARGS[@]}" as the token's public
# key, and an EC and an RSA signature made through it verify with plain
# OpenSSL.
loads_everywhere() {
    local tag=$1 k
    shift
    for k in ec rsa ed25519 ed448 "$@"; do
        expect_success "${RUN[@]}" pkey -in "$k.ref" "${PIN_ARGS[@]}" -pubout \
            -out "$tag-$k.pub.pem" &&
            same_pubkey "$tag: $k.ref is the token's $k key" "$tag-$k.pub.pem" "$k.pub.pem"
    done
    for k in ec rsa; do
        expect_success "${RUN[@]}" dgst -sha256 -sign "$k.ref" "${PIN_ARGS[@]}" \
            -out "$tag-$k.sig" "$DATA" &&
            expect_success plain_openssl dgst -sha256 -verify "$k.pub.pem" -signature "$tag-$k.sig" \
                "$DATA"
    done
}

for list in "${ARRANGEMENTS[@]}"; do
    tag=${list// /-}
    echo "--- $list: -passin"
    RUN=(with_providers "$list") PIN_ARGS=(-passin "file:$PIN_FILE")
    loads_everywhere "$tag-passin"
    echo "--- $list: the configuration's PIN"
    arrangement_cnf "$tag.cnf" "$list" "pkcs11-module-token-pin=file:$PIN_FILE"
    RUN=(cnf_openssl "$tag.cnf") PIN_ARGS=()
    loads_everywhere "$tag-cnf" old-ec
done

echo "--- base beside a FIPS-style provider set, no default provider"
if fips_available; then
    for list in "hsm fips base" "fips base hsm"; do
        tag=${list// /-}
        echo "--- $list: -passin, then the configuration's PIN"
        arrangement_cnf "$tag-passin.cnf" "$list"
        RUN=(fips_openssl "$tag-passin.cnf") PIN_ARGS=(-passin "file:$PIN_FILE")
        loads_everywhere "$tag-passin"
        arrangement_cnf "$tag.cnf" "$list" "pkcs11-module-token-pin=file:$PIN_FILE"
        RUN=(fips_openssl "$tag.cnf") PIN_ARGS=()
        loads_everywhere "$tag-cnf" old-ec
    done
else
    echo "(no FIPS provider installed here: hsm beside base alone has no software crypto)"
fi

finish
