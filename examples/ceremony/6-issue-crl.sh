#!/bin/sh
# Ceremony step 6: issue the root's CRL, signed on the token, checked with
# plain OpenSSL without the HSM.
#
#   6-issue-crl.sh CEREMONY_DIR
#
# openssl ca -gencrl over the database ca/ (the certificates revoked there
# are listed; a first CRL lists none). The CRL is written only if its
# signature is in the audit log (its record named in the transcript) and
# verifies under root.pem, its number is the one expected, its
# authorityKeyIdentifier is the root's key identifier, its validity is as
# asked, and every certificate the root has issued verifies against it.
#
# Parameters (environment):
#   CEREMONY_CRL_DAYS  days until nextUpdate (default 30)
#   CEREMONY_DIGEST    sha256, sha384 (default) or sha512
#
# Output: crl-NUMBER.pem (NUMBER is the CRL number, in hex); ca/ is updated.
# shellcheck source-path=SCRIPTDIR source=ceremony-lib.sh
. "$(dirname "$0")/ceremony-lib.sh"

begin_step 6 issue-crl "$@"

DAYS=${CEREMONY_CRL_DAYS:-30}
DIGEST=${CEREMONY_DIGEST:-sha384}
param CEREMONY_CRL_DAYS "$DAYS"
param CEREMONY_DIGEST "$DIGEST"
is_days "$DAYS" || die "CEREMONY_CRL_DAYS must be a number of days"
check_digest "$DIGEST"

load_ceremony_config
requires root.pem root-key.pem root-check.txt
record "$HSM_CNF" "configuration from step 1"
record "$CEREMONY_DIR/root-key.pem" "key reference from step 2"
record "$CEREMONY_DIR/root.pem" "root certificate from step 3"
root_key
ca_database
NUMBER=$(tr -d ' \r\n' <"$CEREMONY_CA_DIR/crlnumber")
case $NUMBER in '' | *[!0-9A-Fa-f]*) die "ca/crlnumber does not hold a hex number" ;; esac
CRL=crl-$NUMBER.pem
claim "$CRL"

get_pin
hsm_openssl "signing the CRL on the token" ca -gencrl -config "$CA_CNF" \
    -cert "$CEREMONY_DIR/root.pem" -keyfile "$ROOT_KEY" \
    -crldays "$DAYS" -md "$DIGEST" -out "$PARTIAL/$CRL"
[ "$NEW_CA_DB" = 1 ] ||
    ON_FAILURE="the CRL number $NUMBER was used by a CRL that was not published; the next CRL has the next number"
audit_signature "$CRL" "$PARTIAL/$CRL"

plain_openssl "verifying the CRL's signature under the root, without the HSM" crl \
    -in "$PARTIAL/$CRL" -CAfile "$CEREMONY_DIR/root.pem" -noout
grep -q 'verify OK' "$OUT" || die "openssl crl did not say verify OK"
quiet_openssl crl -in "$PARTIAL/$CRL" -noout -text >"$PARTIAL/crl.txt"
quiet_openssl x509 -in "$CEREMONY_DIR/root.pem" -noout -text >"$PARTIAL/root.txt"
# check_is WHAT GOT WANT
check_is() {
    [ "$2" = "$3" ] || die "the CRL's $1 is $(quote "$2"), expected $(quote "$3")"
    say "check passed: $1 is $3"
}
check_is issuer "$(quiet_openssl crl -in "$PARTIAL/$CRL" -noout -issuer -nameopt compat |
    sed 's/^issuer=//')" "$(quiet_openssl x509 -in "$CEREMONY_DIR/root.pem" -noout -subject \
    -nameopt compat | sed 's/^subject=//')"
GOT_NUMBER=$(quiet_openssl crl -in "$PARTIAL/$CRL" -noout -crlnumber | sed 's/^crlNumber=0x//')
check_is "CRL number" "$(printf '%s' "$GOT_NUMBER" | tr 'a-f' 'A-F')" \
    "$(printf '%s' "$NUMBER" | tr 'a-f' 'A-F')"
check_is authorityKeyIdentifier "$(ext_value "$PARTIAL/crl.txt" "X509v3 Authority Key Identifier" |
    sed 's/keyid://')" "$(ext_value "$PARTIAL/root.txt" "X509v3 Subject Key Identifier")"
LAST=$(quiet_openssl crl -in "$PARTIAL/$CRL" -noout -lastupdate | sed 's/^lastUpdate=//')
NEXT=$(quiet_openssl crl -in "$PARTIAL/$CRL" -noout -nextupdate | sed 's/^nextUpdate=//')
check_is "validity ($LAST to $NEXT)" "$(($(epoch "$NEXT") - $(epoch "$LAST"))) seconds" \
    "$((DAYS * 86400)) seconds"

# Every certificate the root issued, checked against this CRL.
for cert in "$CEREMONY_CA_DIR"/newcerts/*.pem; do
    [ -f "$cert" ] || continue
    STATUS=$(awk -F '\t' -v serial="$(basename -- "$cert" .pem)" '$4 == serial { print $1 }' \
        "$CEREMONY_CA_DIR/index.txt")
    if [ "$STATUS" = R ]; then
        say "$(rel "$cert") is revoked in the database; the CRL must list it"
        run env OPENSSL_CONF=/dev/null "$OPENSSL" verify -crl_check -CAfile "$CEREMONY_DIR/root.pem" \
            -CRLfile "$PARTIAL/$CRL" "$cert"
        grep -q 'certificate revoked' "$OUT" || die "the CRL does not list $(rel "$cert") as revoked"
    else
        plain_openssl "checking $(rel "$cert") against the CRL" verify -crl_check \
            -CAfile "$CEREMONY_DIR/root.pem" -CRLfile "$PARTIAL/$CRL" "$cert"
    fi
done
plain_openssl "showing the CRL" crl -in "$PARTIAL/$CRL" -noout -text

publish "$CRL"
ca_database_publish
# shellcheck disable=SC2034 # read by _finish_step in ceremony-lib.sh
ON_FAILURE=""
end_step
