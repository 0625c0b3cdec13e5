#!/bin/sh
# Ceremony step 5: sign an intermediate CA certificate from its CSR, on the
# token, and check it with plain OpenSSL without the HSM.
#
#   5-sign-intermediate.sh CEREMONY_DIR
#
# openssl ca (database ca/, profile intermediate.cnf) with the root key
# loaded afresh from the token; the CSR's own extensions are ignored. The
# certificate is written only if the audit log holds the record of its
# signature (named in the transcript by seq and hash), it verifies under
# root.pem, carries the CSR's public key and subject, and has the
# extensions asked for.
#
# Parameters (environment):
#   CEREMONY_CSR                     the intermediate's CSR, PEM (required)
#   CEREMONY_CRL_URL                 the root CRL's URL, for crlDistributionPoints
#                                    (required)
#   CEREMONY_INTERMEDIATE_NAME       output name (default: the CSR's file name
#                                    without .csr/.pem)
#   CEREMONY_INTERMEDIATE_DAYS       validity in days (default 3650)
#   CEREMONY_PATHLEN                 basicConstraints pathlen (default 0)
#   CEREMONY_INTERMEDIATE_KEY_USAGE  keyUsage, critical (default "keyCertSign,cRLSign";
#                                    comma-separated names as in openssl x509v3_config)
#   CEREMONY_DIGEST                  sha256, sha384 (default) or sha512
#
# Outputs: NAME.csr (the request signed), NAME.pem; ca/ is updated.
# shellcheck source-path=SCRIPTDIR source=ceremony-lib.sh
. "$(dirname "$0")/ceremony-lib.sh"

begin_step 5 sign-intermediate "$@"

need CEREMONY_CSR CEREMONY_CRL_URL
# shellcheck disable=SC2153 # a parameter, from the environment
CSR=$CEREMONY_CSR
NAME=${CEREMONY_INTERMEDIATE_NAME:-}
if [ -z "$NAME" ]; then
    NAME=$(basename -- "$CSR")
    case $NAME in *.csr | *.pem | *.req) NAME=${NAME%.*} ;; esac
fi
DAYS=${CEREMONY_INTERMEDIATE_DAYS:-3650}
CEREMONY_PATHLEN=${CEREMONY_PATHLEN:-0}
CEREMONY_INTERMEDIATE_KEY_USAGE=$(printf '%s' "${CEREMONY_INTERMEDIATE_KEY_USAGE:-keyCertSign,cRLSign}" |
    tr -d ' ')
DIGEST=${CEREMONY_DIGEST:-sha384}
for p in CEREMONY_CSR CEREMONY_CRL_URL CEREMONY_INTERMEDIATE_NAME CEREMONY_INTERMEDIATE_DAYS \
    CEREMONY_PATHLEN CEREMONY_INTERMEDIATE_KEY_USAGE CEREMONY_DIGEST; do
    param_env "$p"
done
case $NAME in
'' | *[!A-Za-z0-9._-]* | .*) die "CEREMONY_INTERMEDIATE_NAME must be letters, digits, . _ - : $(quote "$NAME")" ;;
esac
is_days "$DAYS" || die "CEREMONY_INTERMEDIATE_DAYS must be a number of days"
is_uint "$CEREMONY_PATHLEN" || die "CEREMONY_PATHLEN must be a number"
check_digest "$DIGEST"
safe_value CEREMONY_CRL_URL "$CEREMONY_CRL_URL"
case $CEREMONY_CRL_URL in
http://?* | https://?* | ldap://?*) ;;
*) die "CEREMONY_CRL_URL must be an http://, https:// or ldap:// URL" ;;
esac

# keyUsage: the names x509v3_config knows, and how x509 -text prints them
# (in bit order, which is the order of this list).
KU_NAMES="digitalSignature:Digital_Signature nonRepudiation:Non_Repudiation
keyEncipherment:Key_Encipherment dataEncipherment:Data_Encipherment
keyAgreement:Key_Agreement keyCertSign:Certificate_Sign cRLSign:CRL_Sign
encipherOnly:Encipher_Only decipherOnly:Decipher_Only"
OLDIFS=$IFS
IFS=,
for u in $CEREMONY_INTERMEDIATE_KEY_USAGE; do
    case " $(printf '%s' "$KU_NAMES" | tr '\n' ' ') " in
    *" $u:"*) ;;
    *) die "unknown keyUsage name $(quote "$u") in CEREMONY_INTERMEDIATE_KEY_USAGE" ;;
    esac
done
IFS=$OLDIFS
case ",$CEREMONY_INTERMEDIATE_KEY_USAGE," in
*,keyCertSign,*) ;;
*) die "an intermediate CA's keyUsage must include keyCertSign" ;;
esac
WANT_KU=""
for pair in $KU_NAMES; do
    case ",$CEREMONY_INTERMEDIATE_KEY_USAGE," in
    *",${pair%%:*},"*) WANT_KU="$WANT_KU${WANT_KU:+, }$(printf '%s' "${pair#*:}" | tr '_' ' ')" ;;
    esac
done
export CEREMONY_PATHLEN CEREMONY_INTERMEDIATE_KEY_USAGE CEREMONY_CRL_URL

[ -f "$CSR" ] || die "the CSR $CSR does not exist"
load_ceremony_config
requires root.pem root-key.pem root-check.txt
record "$HSM_CNF" "configuration from step 1"
record "$CEREMONY_DIR/root-key.pem" "key reference from step 2"
record "$CEREMONY_DIR/root.pem" "root certificate from step 3"
root_key
record "$CSR" "the CSR as given"
claim "$NAME.csr" "$NAME.pem"
cp -- "$CSR" "$PARTIAL/$NAME.csr" || die "cannot copy the CSR"

# The request, checked before anything is signed.
plain_openssl "checking the CSR's signature" req -in "$PARTIAL/$NAME.csr" -verify -noout
plain_openssl "showing the CSR" req -in "$PARTIAL/$NAME.csr" -noout -subject -nameopt compat
quiet_openssl req -in "$PARTIAL/$NAME.csr" -noout -pubkey >"$PARTIAL/csr.pub.pem" ||
    die "cannot read the CSR's public key"
CSR_FPR=$(spki_fingerprint "$PARTIAL/csr.pub.pem")
say "the CSR's public key: SHA256:$CSR_FPR (the requester should confirm it)"
CSR_SUBJECT=$(quiet_openssl req -in "$PARTIAL/$NAME.csr" -noout -subject -nameopt compat |
    sed 's/^subject=//')

ca_database
get_pin
hsm_openssl "signing the intermediate certificate on the token" ca -batch \
    -config "$CA_CNF" -extfile "$INT_CNF" \
    -extensions v3_intermediate -create_serial -preserveDN -notext \
    -cert "$CEREMONY_DIR/root.pem" -keyfile "$ROOT_KEY" \
    -in "$PARTIAL/$NAME.csr" -days "$DAYS" -md "$DIGEST" -out "$PARTIAL/$NAME.pem"
SERIAL=$(quiet_openssl x509 -in "$PARTIAL/$NAME.pem" -noout -serial | sed 's/^serial=//')
say "the certificate's serial number: $SERIAL"
[ "$NEW_CA_DB" = 1 ] ||
    ON_FAILURE="ca/index.txt lists the certificate $SERIAL although it was not published; revoke it (openssl ca -revoke ca/newcerts/$SERIAL.pem) before the next CRL"
audit_signature "$NAME.pem" "$PARTIAL/$NAME.pem"

# Checked without the HSM before it is published.
CERT=$PARTIAL/$NAME.pem
plain_openssl "verifying the certificate under the root, without the HSM" verify -x509_strict \
    -CAfile "$CEREMONY_DIR/root.pem" "$CERT"
[ "$(cert_spki_fingerprint "$CERT")" = "$CSR_FPR" ] ||
    die "the certificate does not carry the CSR's public key"
say "check passed: the certificate carries the CSR's public key"
quiet_openssl x509 -in "$CERT" -noout -text -certopt no_pubkey,no_sigdump >"$PARTIAL/cert.txt"
quiet_openssl x509 -in "$CEREMONY_DIR/root.pem" -noout -text >"$PARTIAL/root.txt"
# check_is WHAT GOT WANT
check_is() {
    [ "$2" = "$3" ] || die "the certificate's $1 is $(quote "$2"), expected $(quote "$3")"
    say "check passed: $1 is $3"
}
check_is subject "$(quiet_openssl x509 -in "$CERT" -noout -subject -nameopt compat |
    sed 's/^subject=//')" "$CSR_SUBJECT"
check_is issuer "$(quiet_openssl x509 -in "$CERT" -noout -issuer -nameopt compat |
    sed 's/^issuer=//')" "$(quiet_openssl x509 -in "$CEREMONY_DIR/root.pem" -noout -subject \
    -nameopt compat | sed 's/^subject=//')"
check_is basicConstraints "$(ext_value "$PARTIAL/cert.txt" "X509v3 Basic Constraints")" \
    "critical, CA:TRUE, pathlen:$CEREMONY_PATHLEN"
check_is keyUsage "$(ext_value "$PARTIAL/cert.txt" "X509v3 Key Usage")" "critical, $WANT_KU"
check_is crlDistributionPoints "$(ext_value "$PARTIAL/cert.txt" "X509v3 CRL Distribution Points")" \
    "Full Name:; URI:$CEREMONY_CRL_URL"
ROOT_SKI=$(ext_value "$PARTIAL/root.txt" "X509v3 Subject Key Identifier")
check_is authorityKeyIdentifier "$(ext_value "$PARTIAL/cert.txt" "X509v3 Authority Key Identifier" |
    sed 's/keyid://')" "$ROOT_SKI"
check_is subjectKeyIdentifier "$(ext_value "$PARTIAL/cert.txt" "X509v3 Subject Key Identifier")" \
    "$(ski_expected "$CERT")"
plain_openssl "showing the certificate" x509 -in "$CERT" -noout -text -certopt no_pubkey,no_sigdump

publish "$NAME.csr" "$NAME.pem"
ca_database_publish
# shellcheck disable=SC2034 # read by _finish_step in ceremony-lib.sh
ON_FAILURE=""
end_step
