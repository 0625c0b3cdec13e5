#!/bin/sh
# Ceremony step 4: check the root certificate with plain OpenSSL, without
# the HSM (OpenSSL with an empty configuration: the provider is never
# loaded and the token is not touched).
#
#   4-check-root.sh CEREMONY_DIR
#
# Checks: the self-signature verifies; the public key is the one whose
# fingerprint step 2 showed; subject, issuer, validity and digest are those
# asked for at step 3; the extensions are exactly those of root.cnf
# (basicConstraints critical CA:TRUE without pathlen; keyUsage critical
# Certificate Sign, CRL Sign; subjectKeyIdentifier, the SHA-1 of the public
# key as RFC 5280 4.2.1.2 describes).
#
# Output: root-check.txt (the checks and their results).
# shellcheck source-path=SCRIPTDIR source=ceremony-lib.sh
. "$(dirname "$0")/ceremony-lib.sh"

begin_step 4 check-root "$@"

requires root.pem root-key.spki.sha256 root-request.txt
ROOT=$CEREMONY_DIR/root.pem
record "$ROOT" "the certificate checked"
record "$CEREMONY_DIR/root-key.spki.sha256" "fingerprint from step 2"
record "$CEREMONY_DIR/root-request.txt" "what step 3 asked for"
claim root-check.txt

REPORT=$PARTIAL/root-check.txt
# passed TEXT : a check that held, for the report.
passed() {
    say "check passed: $*"
    printf 'PASS %s\n' "$*" >>"$REPORT"
}
# expect WHAT GOT WANT
expect() {
    [ "$2" = "$3" ] || die "$1 is $(quote "$2"), expected $(quote "$3")"
    passed "$1 is $3"
}

SUBJECT=$(sed -n 's/^subject: //p' "$CEREMONY_DIR/root-request.txt")
DAYS=$(sed -n 's/^days: //p' "$CEREMONY_DIR/root-request.txt")
DIGEST=$(sed -n 's/^digest: //p' "$CEREMONY_DIR/root-request.txt")
WANT_FPR=$(sed -n 's/^SHA256://p' "$CEREMONY_DIR/root-key.spki.sha256")
{
    printf '# Checks of root.pem with plain OpenSSL (%s), without the HSM\n' \
        "$(quiet_openssl version)"
    printf '# root.pem sha256 %s\n' "$(sha256_of "$ROOT")"
} >"$REPORT"

plain_openssl "verifying the self-signature" verify -x509_strict -check_ss_sig \
    -CAfile "$ROOT" "$ROOT"
grep -q ': OK$' "$OUT" || die "openssl verify did not say OK"
passed "the self-signature verifies (openssl verify -x509_strict -check_ss_sig)"

expect "the public key's fingerprint" "SHA256:$(cert_spki_fingerprint "$ROOT")" "SHA256:$WANT_FPR"

plain_openssl "reading the certificate" x509 -in "$ROOT" -noout -text -certopt no_pubkey,no_sigdump
cp "$OUT" "$PARTIAL/root.txt"
expect "the version" "$(sed -n 's/^ *Version: \([0-9]*\) .*/\1/p' "$PARTIAL/root.txt")" 3
expect "the subject" "$(quiet_openssl x509 -in "$ROOT" -noout -subject -nameopt compat |
    sed 's/^subject=//')" "$SUBJECT"
expect "the issuer" "$(quiet_openssl x509 -in "$ROOT" -noout -issuer -nameopt compat |
    sed 's/^issuer=//')" "$SUBJECT"
case $DIGEST in
sha256) WANT_ALG="with-SHA256|sha256With" ;;
sha384) WANT_ALG="with-SHA384|sha384With" ;;
sha512) WANT_ALG="with-SHA512|sha512With" ;;
esac
ALG=$(sed -n 's/^ *Signature Algorithm: //p' "$PARTIAL/root.txt" | head -n 1)
printf '%s\n' "$ALG" | grep -qE "$WANT_ALG" || die "the signature algorithm is $ALG, not one with $DIGEST"
passed "the signature algorithm is $ALG"

NB=$(quiet_openssl x509 -in "$ROOT" -noout -startdate | sed 's/^notBefore=//')
NA=$(quiet_openssl x509 -in "$ROOT" -noout -enddate | sed 's/^notAfter=//')
SPAN=$(($(epoch "$NA") - $(epoch "$NB")))
expect "the validity ($NB to $NA)" "$SPAN seconds" "$((DAYS * 86400)) seconds"

# Exactly the extensions of root.cnf, nothing more.
awk '/^        X509v3 extensions:/ { on = 1; next }
     on && /^            [^ ]/ { sub(/^ +/, ""); sub(/:.*/, ""); print }
     on && /^        [^ ]/ { on = 0 }' "$PARTIAL/root.txt" | sort >"$PARTIAL/exts"
expect "the list of extensions" "$(paste -sd ',' - <"$PARTIAL/exts")" \
    "X509v3 Basic Constraints,X509v3 Key Usage,X509v3 Subject Key Identifier"
expect "basicConstraints" "$(ext_value "$PARTIAL/root.txt" "X509v3 Basic Constraints")" \
    "critical, CA:TRUE"
expect "keyUsage" "$(ext_value "$PARTIAL/root.txt" "X509v3 Key Usage")" \
    "critical, Certificate Sign, CRL Sign"
SKI=$(ski_expected "$ROOT") || die "cannot compute the key identifier"
expect "subjectKeyIdentifier" "$(ext_value "$PARTIAL/root.txt" "X509v3 Subject Key Identifier")" \
    "$SKI"

say "every check passed"
publish root-check.txt
end_step
