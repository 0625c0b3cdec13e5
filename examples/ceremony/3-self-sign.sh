#!/bin/sh
# Ceremony step 3: the self-signed root certificate, signed on the token.
#
#   3-self-sign.sh CEREMONY_DIR
#
# openssl req -x509 with the shipped profile root.cnf (basicConstraints
# critical CA:TRUE; keyUsage critical keyCertSign, cRLSign;
# subjectKeyIdentifier), the key loaded afresh from the token through the
# reference made at step 2 (by the URI it holds). Before root.pem is written, plain OpenSSL checks
# that its signature verifies and that it carries the key whose fingerprint
# step 2 showed: a key replaced on the token since then stops the ceremony
# here, with no certificate. The transcript names the audit log's record
# of the signature (seq and hash).
#
# Parameters (environment):
#   CEREMONY_ROOT_SUBJECT  e.g. "/C=XX/O=Example/CN=Example Root CA" (required;
#                          short attribute names, as step 4 compares them)
#   CEREMONY_ROOT_DAYS     validity in days (default 7300)
#   CEREMONY_DIGEST        sha256, sha384 (default) or sha512
#
# Outputs: root.cnf (the profile used), root-request.txt, root.pem.
# shellcheck source-path=SCRIPTDIR source=ceremony-lib.sh
. "$(dirname "$0")/ceremony-lib.sh"

begin_step 3 self-sign "$@"

need CEREMONY_ROOT_SUBJECT
SUBJECT=$CEREMONY_ROOT_SUBJECT
DAYS=${CEREMONY_ROOT_DAYS:-7300}
DIGEST=${CEREMONY_DIGEST:-sha384}
param CEREMONY_ROOT_SUBJECT "$SUBJECT"
param CEREMONY_ROOT_DAYS "$DAYS"
param CEREMONY_DIGEST "$DIGEST"
case $SUBJECT in
/*=*) ;;
*) die "CEREMONY_ROOT_SUBJECT must look like /O=Example/CN=Example Root CA" ;;
esac
case $SUBJECT in *'
'*) die "CEREMONY_ROOT_SUBJECT must be one line" ;; esac
is_days "$DAYS" || die "CEREMONY_ROOT_DAYS must be a number of days"
check_digest "$DIGEST"

load_ceremony_config
requires root-key.pem root-key.spki.sha256
record "$HSM_CNF" "configuration from step 1"
record "$CEREMONY_DIR/root-key.pem" "key reference from step 2"
record "$CEREMONY_DIR/root-key.spki.sha256" "fingerprint from step 2"
root_key
WANT=$(sed -n 's/^SHA256://p' "$CEREMONY_DIR/root-key.spki.sha256")
claim root.cnf root-request.txt root.pem

cp -- "$CEREMONY_HOME/root.cnf" "$PARTIAL/root.cnf" || die "cannot copy root.cnf"
{
    printf 'subject: %s\n' "$SUBJECT"
    printf 'days: %s\n' "$DAYS"
    printf 'digest: %s\n' "$DIGEST"
} >"$PARTIAL/root-request.txt"

get_pin
hsm_openssl "signing the root certificate on the token" req -new -x509 \
    -config "$PARTIAL/root.cnf" -extensions v3_root -key "$ROOT_KEY" \
    -subj "$SUBJECT" -days "$DAYS" "-$DIGEST" -out "$PARTIAL/root.pem"
audit_signature "root.pem" "$PARTIAL/root.pem"

plain_openssl "verifying the root's signature without the HSM" verify -check_ss_sig \
    -CAfile "$PARTIAL/root.pem" "$PARTIAL/root.pem"
GOT=$(cert_spki_fingerprint "$PARTIAL/root.pem")
say "the certificate's public key: SHA256:$GOT"
[ "$GOT" = "$WANT" ] ||
    die "the certificate carries the key SHA256:$GOT, not the key generated at step 2 (SHA256:$WANT): the key on the token was replaced; no certificate was written"
plain_openssl "showing the root certificate" x509 -in "$PARTIAL/root.pem" -noout -text \
    -certopt no_pubkey,no_sigdump

publish root.cnf root-request.txt root.pem
end_step
