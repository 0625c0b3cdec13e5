# shellcheck shell=bash
# Shared set-up for the hsm-audit scenarios; sourced, never run.
#
# Builds on tests/integration/lib.sh (temporary directory, reporting, plain
# OpenSSL). Logs are written by the provider's own code: hsm-audit note,
# and write_record for records of signatures made by plain OpenSSL.
#
# Environment (set by tests/audit/meson.build), besides lib.sh's:
#   HSM_AUDIT_TOOL           the built hsm-audit
#   HSM_AUDIT_WRITE_RECORD   tests/audit/write_record

# shellcheck source-path=SCRIPTDIR source=../integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"

LOG="$TMP/audit.log"

# hsm_audit ARGS... : the verifier, with a time limit.
hsm_audit() {
    timeout -k 5 30 "$HSM_AUDIT_TOOL" "$@"
}

# write_record OPERATION KEY_URI DATA_FILE SIGNATURE_FILE
write_record() {
    timeout -k 5 30 "$HSM_AUDIT_WRITE_RECORD" "$LOG" "$@"
}

# notes N : appends notes "step 1" .. "step N" to LOG.
notes() {
    local i
    for i in $(seq "$1"); do
        hsm_audit note "$LOG" "step $i" >/dev/null || fail "note $i was not recorded"
    done
}

# expect_broken_at LINE [LOG] : hsm-audit verify exits 1 and names LINE as
# the first broken link.
expect_broken_at() {
    local line=$1 log=${2:-$LOG}
    _run hsm_audit verify "$log"
    if [ "$LAST_RC" -ne 1 ]; then
        fail "verify of a log broken at line $line: $(_status_text), want 1"
        _show_last
    elif ! grep -q "broken at line $line:" "$LAST_OUT"; then
        fail "verify does not name line $line"
        _show_last
    else
        pass "verify names line $line: $(sed 's/.*broken at //' "$LAST_OUT" | head -c 160)"
    fi
}

# cert_parts CERT : writes CERT's TBSCertificate to $TMP/tbs.der and its
# signatureValue (without the unused-bits byte) to $TMP/sig.bin, read with
# plain OpenSSL's asn1parse.
cert_parts() {
    local der="$TMP/cert.der" last off hl len
    plain_openssl x509 -in "$1" -outform DER -out "$der" || return 1
    plain_openssl asn1parse -inform DER -in "$der" -strparse 4 -noout -out "$TMP/tbs.der" \
        >/dev/null || return 1
    # The last element of the certificate: "OFF:d=1  hl=HL l= LEN prim: BIT STRING".
    last=$(plain_openssl asn1parse -inform DER -in "$der" | grep 'd=1' | tail -1)
    case "$last" in *"BIT STRING"*) ;; *) return 1 ;; esac
    off=$(printf '%s' "$last" | sed -E 's/^ *([0-9]+):.*/\1/')
    hl=$(printf '%s' "$last" | sed -E 's/.*hl=([0-9]+).*/\1/')
    len=$(printf '%s' "$last" | sed -E 's/.*l= *([0-9]+).*/\1/')
    tail -c +$((off + hl + 2)) "$der" | head -c $((len - 1)) >"$TMP/sig.bin"
}
