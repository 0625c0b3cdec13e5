#!/usr/bin/env bash
# Story (issue 14, item 2): a key reference file names a key; it never
# carries a PIN, a PIN source or a module. Anyone can write a PEM "PRIVATE
# KEY" with the provider's OID, and a program with the provider active that
# reads an untrusted key file must not let that file spend a PIN try on the
# token (pin-value), send another file's content to the token as a PIN
# (pin-source=file:...), or choose a module. Each such file is refused:
# nothing is logged in, no key is handed out. The same URI given by the
# application (on the command line) keeps its query; a clean reference of
# the key loads with the application's PIN.
# shellcheck source=keyref_lib.sh disable=SC2317
. "$(dirname "$0")/keyref_lib.sh"

make_token ca
make_key ca EC:prime256v1 01 k1
require
save_token_pubkey ca 01 token.pub.pem
# The right PIN in a file only root (this process's user) can read: what a
# crafted reference would point pin-source at.
printf '%s' "$USER_PIN" >owner-only.pin
chmod 600 owner-only.pin
write_provider_cnf nopin.cnf "pkcs11-module-path=$SOFTHSM_MODULE"

expect_success cnf_openssl nopin.cnf pkey -in "$(key_uri ca k1)" -out clean.pem
uri=$(uri_of_reference clean.pem)
check "the reference holds the key's canonical URI, no query" \
    bash -c '[[ $1 == pkcs11:*object=k1* && $1 != *"?"* ]]' _ "$uri"

echo "--- a clean reference loads with the application's PIN"
expect_success cnf_openssl nopin.cnf pkey -in clean.pem -passin "file:$TMP/owner-only.pin" \
    -pubout -out clean.pub.pem &&
    same_pubkey "the clean reference is the token's key" clean.pub.pem token.pub.pem

echo "--- a reference with a query is refused, and logs nothing in"
# In both OID forms: with the key type's arc (which every reference written
# now has: the refusal's reason reaches the application), and the bare OID
# of older references (refused all the same; OpenSSL 3.5 drops the reason).
n=0
for oid in "$REF_OID.2" "$REF_OID"; do
    for query in "pin-source=file:$TMP/owner-only.pin" "pin-value=$USER_PIN" "pin-value=9999" \
        "module-path=$SOFTHSM_MODULE" "module-name=softhsm2"; do
        n=$((n + 1))
        what="a reference ($oid) with ?${query%%=*}"
        craft_reference "$uri?$query" "crafted-$n.pem" "$oid" || fail "crafting $what"
        rm -f "$DEBUG_LOG" "crafted-$n.pub.pem"
        HSM_DEBUG_LOG=$DEBUG_LOG HSM_DEBUG_LEVEL=2 expect_refusal "$what is refused" \
            cnf_openssl nopin.cnf pkey -in "crafted-$n.pem" -pubout -out "crafted-$n.pub.pem"
        [ "$oid" = "$REF_OID" ] || assert_output_contains "carries a query (${query%%=*})"
        assert_output_lacks "pin-value=|pin-source=" "... the message shows no query value"
        check "... no C_Login" test "$(logins_in_log)" -eq 0
        check "... and no key came out" test ! -s "crafted-$n.pub.pem"
    done
done

echo "--- the application's own URI keeps its query"
expect_success cnf_openssl nopin.cnf pkey -in "$uri?pin-source=file:$TMP/owner-only.pin" \
    -pubout -out by-uri.pub.pem &&
    same_pubkey "a pin-source in the command line's URI is used" by-uri.pub.pem token.pub.pem
expect_failure_with --any-file "module-name" cnf_openssl nopin.cnf pkey -in "$uri?module-name=softhsm2" \
    -pubout -out by-name.pub.pem

finish
