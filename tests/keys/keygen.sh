#!/usr/bin/env bash
# Story: a root-CA ceremony generates its key inside the HSM with
# `openssl genpkey ... -pkeyopt pkcs11_uri:'pkcs11:token=...;object=...'`.
# For RSA (2048 with public exponent 3, 3072 and 4096 with the default
# 65537), EC P-256/P-384/P-521, Ed25519 and Ed448, with a given id or a
# random 20-byte one:
#  - pkcs11-tool (not the provider) finds the private key on the token,
#    CKA_PRIVATE (hidden without login), sensitive, always sensitive, never
#    extractable, local, with the id of the URI in the written PEM;
#  - the written PEM is a key reference that holds the canonical URI and no
#    PIN, and `openssl req -key file.pem` loads the key back from the token:
#    the root verifies with plain OpenSSL and carries the token's public key;
#  - the same with hsm listed before default (EdDSA, EC, RSA): SoftHSMv2
#    makes EdDSA keys with libcrypto inside its own C_GenerateKeyPair, and
#    that must reach the default provider, not hsm;
#  - with hsm first, a generation that does not ask for hsm makes a software
#    key with the default provider, and one that names a token URI without
#    asking for hsm fails and writes nothing;
#  - a refused generation (label or id in use, even by a certificate; a curve,
#    size or URI the provider does not take) says why and adds nothing to the
#    token. Then the same from C with EVP_PKEY_keygen.
# shellcheck source=keys_lib.sh disable=SC2317 # functions are run through _run
. "$(dirname "$0")/keys_lib.sh"

make_token ca
require
before=$(count_objects ca)
check "the new token is empty" test "$before" -eq 0

# label | algorithm | id ("" for a random one) | pkeyopts (comma-separated) |
# what plain `openssl pkey -text` prints for the public key | provider order
keys=(
    "rsa2048|RSA|01|rsa_keygen_bits:2048,rsa_keygen_pubexp:3|Exponent: 3 (0x3)|default-first"
    "rsa3072|RSA||rsa_keygen_bits:3072|Exponent: 65537 (0x10001)|default-first"
    "rsa4096|RSA|03|rsa_keygen_bits:4096,rsa_keygen_pubexp:65537|Public-Key: (4096 bit)|default-first"
    "p256|EC|04|group:P-256|NIST CURVE: P-256|default-first"
    "p384|EC||group:P-384|NIST CURVE: P-384|default-first"
    "p521|EC|a1b2c3|group:P-521|NIST CURVE: P-521|default-first"
    "ed25519|ED25519|||ED25519 Public-Key|default-first"
    "ed448|ED448|0448||ED448 Public-Key|default-first"
    "ed25519-hf|ED25519|e1||ED25519 Public-Key|hsm-first"
    "ed448-hf|ED448|||ED448 Public-Key|hsm-first"
    "p256-hf|EC||group:P-256|NIST CURVE: P-256|hsm-first"
    "rsa2048-hf|RSA|e3|rsa_keygen_bits:2048|Public-Key: (2048 bit)|hsm-first"
)
made=0
for spec in "${keys[@]}"; do
    IFS='|' read -r label alg id opts text GENKEY_ORDER <<<"$spec"
    pkeyopts=()
    [ -z "$opts" ] || IFS=, read -r -a pkeyopts <<<"$opts"
    pct_id=""
    [ -z "$id" ] || pct_id=$(printf '%s' "$id" | sed 's/../%&/g')

    expect_success genkey "$label.pem" "$(gen_uri ca "$label" "$pct_id")" "$alg" \
        "${pkeyopts[@]}" || continue
    made=$((made + 1))

    # What was written: a reference holding the canonical URI, no PIN.
    check "$label.pem is a PEM PRIVATE KEY block" grep -q -- "-----BEGIN PRIVATE KEY-----" "$label.pem"
    uri=$(uri_in_reference "$label.pem")
    check "$label.pem holds the key's URI ($uri)" \
        grep -qE "^pkcs11:.*token=ca;.*object=$label;type=private$" <<<"$uri"
    check "$label.pem holds no PIN and no PIN source (no query part)" \
        test -n "$uri" -a "${uri#*\?}" = "$uri"
    pem_id=$(id_of_uri "$uri")
    if [ -n "$id" ]; then
        check "$label: the URI names the given id $id" test "$pem_id" = "$id"
    else
        check "$label: a random 20-byte id was chosen ($pem_id)" \
            grep -qE '^[0-9a-f]{40}$' <<<"$pem_id"
    fi

    # The token, seen by pkcs11-tool.
    priv=$(object_block ca "Private Key" "$label" --login --pin "$USER_PIN")
    check "$label: the private key is on the token (CKA_TOKEN: seen by another process)" \
        test -n "$priv"
    check "$label: the private key has the id of the URI" \
        test "$(object_id ca "Private Key" "$label" --login --pin "$USER_PIN")" = "$pem_id"
    check "$label: sensitive, always sensitive, never extractable, local" \
        grep -q "Access: *sensitive, always sensitive, never extractable, local" <<<"$priv"
    check "$label: CKA_PRIVATE (not listed without login)" \
        test -z "$(object_block ca "Private Key" "$label")"
    check "$label: a public key object with the same id" \
        test "$(object_id ca "Public Key" "$label")" = "$pem_id"
    save_pubkey_by_id ca "$pem_id" "$label.token.pub"
    expect_success plain_openssl pkey -pubin -in "$label.token.pub" -noout -text &&
        assert_output_contains "$text"

    # The reference loads back: a root signed with it verifies.
    self_signed_root "$label.pem" "root-$label.pem" &&
        verify_root "root-$label.pem" "$label.token.pub"
done
GENKEY_ORDER=default-first
check "each of the ${#keys[@]} generations added a key pair ($made made)" \
    test "$(count_objects ca)" -eq $((before + 2 * made))

# hsm first, nothing asks for hsm: the default provider makes a software key
# (plain OpenSSL reads its private half), and nothing reaches the token.
before=$(count_objects ca)
for alg in ED25519 ED448 EC RSA; do
    opt=()
    [ "$alg" != EC ] || opt=(-pkeyopt group:P-256)
    expect_success hsm_openssl genpkey -algorithm "$alg" "${opt[@]}" -out "sw-$alg.pem" &&
        expect_success plain_openssl pkey -in "sw-$alg.pem" -noout -text &&
        assert_output_contains "Private-Key"
done
# ... and a token URI without -propquery '?provider=hsm' is not silently
# dropped: the default provider refuses the parameter and writes nothing.
expect_failure_with --no-file nohsm.pem "pkcs11_uri" hsm_openssl genpkey -algorithm EC \
    -pkeyopt group:P-256 -pkeyopt "pkcs11_uri:$(gen_uri ca no-propquery)" -out nohsm.pem
check "software generations with hsm first left the token as it was" \
    test "$(count_objects ca)" -eq "$before"

# The reference PEM again, with hsm listed first (the order of the shipped
# snippets) and through pkey: the same public key as the token's.
expect_success hsm_openssl pkey -in p384.pem -passin "file:$PIN_FILE" -pubout -out p384.pub.pem &&
    same_pubkey "pkey -pubout of p384.pem is the token's public key" p384.pub.pem p384.token.pub

# --------------------------------------------------------------- refusals
plain_openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout cert.key \
    -subj /CN=cert-only -days 1 -outform DER -out cert-only.der 2>/dev/null
expect_success p11 ca --login --pin "$USER_PIN" --write-object cert-only.der --type cert \
    --id c0 --label cert-only
before=$(count_objects ca)
EXISTS="an object with this label or id already exists on the token"

expect_failure_with --any-file "$EXISTS" genkey x.pem "$(gen_uri ca p256 %aa)" EC group:P-256 &&
    assert_output_contains "labelled 'p256'" && assert_output_contains "nothing was generated"
expect_failure_with --any-file "$EXISTS" genkey x.pem "$(gen_uri ca fresh %01)" RSA \
    rsa_keygen_bits:2048 && assert_output_contains "with id %01"
expect_failure_with --any-file "$EXISTS" genkey x.pem "$(gen_uri ca fresh "$(printf %s "$pem_id" | sed 's/../%&/g')")" \
    ED448 && assert_output_contains "already holds an object with id"
expect_failure_with --any-file "$EXISTS" genkey x.pem "$(gen_uri ca cert-only)" EC group:P-256 &&
    assert_output_contains "labelled 'cert-only'"
expect_failure_with --any-file "$EXISTS" genkey x.pem "$(gen_uri ca fresh %c0)" ED25519
for curve in secp256k1 brainpoolP256r1; do
    expect_failure_with --any-file "curve \"$curve\" is not supported" \
        genkey x.pem "$(gen_uri ca "k-$curve")" EC "group:$curve"
done
expect_failure_with --any-file "RSA keys of 1024 bits are not generated" \
    genkey x.pem "$(gen_uri ca rsa1024)" RSA rsa_keygen_bits:1024
expect_failure_with --any-file "no token named" \
    dflt_openssl genpkey -propquery '?provider=hsm' -algorithm EC -pkeyopt group:P-256 -out x.pem
expect_failure_with --any-file "a generated key is type=private" \
    genkey x.pem "pkcs11:token=ca;object=pub;type=public?pin-source=file:$PIN_FILE" EC group:P-256
expect_failure_with --any-file "no token matches the URI" \
    genkey x.pem "$(gen_uri nosuchtoken k)" EC group:P-256
# hsm listed first with prefer-other-providers = no: SoftHSMv2's own
# software EdDSA generation reaches this provider, which refuses it and says
# how to fix the configuration; nothing is left on the token.
write_provider_cnf no-preference.cnf "prefer-other-providers=no"
expect_failure_with --any-file "reached the hsm provider" cnf_openssl no-preference.cnf genpkey \
    -propquery '?provider=hsm' -algorithm ED25519 \
    -pkeyopt "pkcs11_uri:$(gen_uri ca ed-no-preference)" -out x.pem
# A value that is not yes or no keeps hsm from activating, as for the
# provider's other options.
write_provider_cnf bad-preference.cnf "prefer-other-providers=maybe"
expect_success cnf_openssl bad-preference.cnf list -providers &&
    assert_output_lacks "hsm" "prefer-other-providers = maybe: hsm is not activated"
check "refused generations left nothing on the token" test "$(count_objects ca)" -eq "$before"

# ------------------------------------------------------------------- from C
plain_openssl rand -out data 4000
expect_success keygen_from_c EC P-384 "$(gen_uri ca from-c %c1)" data c.sig c.pub.pem c.ref.pem &&
    assert_output_contains "generated by provider hsm"
check "from C: the private key is on the token with id c1" \
    test "$(object_id ca "Private Key" from-c --login --pin "$USER_PIN")" = c1
check "from C: never extractable" \
    grep -q "never extractable" <<<"$(object_block ca "Private Key" from-c --login --pin "$USER_PIN")"
save_pubkey_by_id ca c1 from-c.token.pub
same_pubkey "from C: the key handed back is the token's" c.pub.pem from-c.token.pub
expect_success plain_openssl dgst -sha256 -verify from-c.token.pub -signature c.sig data
check "from C: the reference PEM names the key" \
    grep -q "object=from-c;type=private" <<<"$(uri_in_reference c.ref.pem)"
expect_failure_with --no-file c2.sig "$EXISTS" \
    keygen_from_c EC P-256 "$(gen_uri ca from-c)" data c2.sig c2.pub.pem c2.ref.pem

finish
