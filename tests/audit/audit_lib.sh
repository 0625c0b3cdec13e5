# shellcheck shell=bash
# Shared set-up for the audit log scenarios; sourced, never run.
#
# Builds on tests/keys/keys_lib.sh (and so tests/integration/lib.sh:
# temporary SoftHSMv2 token, openssl through the provider, plain
# verification, reporting; public keys of any kind read from the token with
# pkcs11-tool). Logs are written by the provider itself (audit_cnf), by
# hsm-audit note, and by write_record for records of signatures made by
# plain OpenSSL. Records are read with jq, never with the provider's code.
#
# Environment (set by tests/audit/meson.build), besides lib.sh's:
#   HSM_AUDIT_TOOL           the built hsm-audit
#   HSM_AUDIT_WRITE_RECORD   tests/audit/write_record
#   HSM_AUDIT_SIGNERS        tests/audit/audit_signers
#   HSM_KEY_HOLDER           tests/policy/key_holder

# shellcheck source-path=SCRIPTDIR source=../keys/keys_lib.sh
. "$(dirname "$0")/../keys/keys_lib.sh"

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

# audit_cnf FILE [KEY=VALUE...] : an openssl.cnf activating hsm on SoftHSMv2
# with audit-log = LOG (and the options given) beside default.
audit_cnf() {
    local file=$1
    shift
    write_provider_cnf "$file" "pkcs11-module-path=$SOFTHSM_MODULE" "audit-log=$LOG" "$@"
}

# audit_openssl ARGS... : /usr/bin/openssl with the provider configured by
# $TMP/audit.cnf (audit_cnf writes it; a scenario may write another).
audit_openssl() {
    cnf_openssl "$TMP/audit.cnf" "$@"
}

# ------------------------------------------------------------- records

# records : the number of lines in LOG.
records() {
    if [ -e "$LOG" ]; then wc -l <"$LOG" | tr -d ' '; else echo 0; fi
}

# record_where JQ-CONDITION [DESC] : the last record of LOG the condition
# holds for, as one JSON line in REC, as an assertion (fails when none).
record_where() {
    REC=$(jq -c "select($1)" "$LOG" 2>/dev/null | tail -n 1)
    if [ -n "$REC" ]; then
        pass "the log has a record where $1"
    else
        fail "the log has no record where $1${2:+ ($2)}"
        tail -n 5 "$LOG" 2>/dev/null | cut -c1-600 | sed 's/^/  | /'
        return 1
    fi
}

# field NAME : member NAME of REC as text (arrays joined by spaces); empty
# when absent.
field() {
    jq -r --arg n "$1" '.[$n] // empty | if type == "array" then join(" ") else tostring end' \
        <<<"$REC"
}

# expect_field NAME VALUE : REC's member NAME is VALUE.
expect_field() {
    local got
    got=$(field "$1")
    if [ "$got" = "$2" ]; then
        pass "record: $1 = $2"
    else
        fail "record: $1 is \"$got\", want \"$2\""
    fi
}

# expect_field_matches NAME ERE : REC's member NAME matches ERE.
expect_field_matches() {
    local got
    got=$(field "$1")
    if [[ "$got" =~ $2 ]]; then
        pass "record: $1 = $got"
    else
        fail "record: $1 is \"$got\", does not match /$2/"
    fi
}

# expect_absent NAME... : REC has no member NAME (absent, not empty).
expect_absent() {
    local n
    for n in "$@"; do
        if jq -e --arg n "$n" 'has($n)' <<<"$REC" >/dev/null; then
            fail "record: $n is present ($(field "$n")), it should be absent"
        else
            pass "record: no $n"
        fi
    done
}

# expect_members LIST : REC's member names, in order, are exactly LIST
# (space-separated).
expect_members() {
    local got
    got=$(jq -r 'keys_unsorted | join(" ")' <<<"$REC")
    if [ "$got" = "$1" ]; then
        pass "record: members $1"
    else
        fail "record: members are \"$got\", want \"$1\""
    fi
}

# ------------------------------------------------------- expected values

# sha256_file FILE : lower-case hex SHA-256 of FILE (coreutils, not OpenSSL).
sha256_file() {
    sha256sum "$1" | cut -d' ' -f1
}

# digest_sha256 MD FILE : SHA-256 of FILE's MD digest, the digest as the
# token is given it (plain OpenSSL hashes, coreutils hashes again).
digest_sha256() {
    plain_openssl dgst "-$1" -binary "$2" | sha256sum | cut -d' ' -f1
}

# spki_sha256 PEM : SHA-256 of a public key's DER SubjectPublicKeyInfo.
spki_sha256() {
    plain_openssl pkey -pubin -in "$1" -outform DER | sha256sum | cut -d' ' -f1
}

# canonical_uri TOKEN SERIAL IDHEX LABEL : the key's URI as the provider
# names it (RFC 7512 order: model, manufacturer, serial, token, id, object).
canonical_uri() {
    printf 'pkcs11:model=SoftHSM%%20v2;manufacturer=SoftHSM%%20project;serial=%s;token=%s;id=%s;object=%s;type=private' \
        "$2" "$1" "$(printf '%s' "$3" | sed 's/../%&/g')" "$4"
}

# expect_process_facts CMDLINE : REC's process members: the time (UTC,
# microseconds), this host, a pid, the program, the user, and the command
# line as given (CMDLINE, its arguments joined by spaces, secrets masked).
expect_process_facts() {
    expect_field_matches time '^20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9]\.[0-9]{6}Z$'
    expect_field host "$(hostname)"
    expect_field_matches pid '^[1-9][0-9]*$'
    expect_field uid "$(id -u)"
    expect_field user "$(id -un)"
    expect_field cmdline "$1"
}

# expect_token_fields : REC names the token made by make_token (TOKEN_SERIAL).
expect_token_fields() {
    expect_field token_label "$1"
    expect_field token_serial "$TOKEN_SERIAL"
    expect_field token_model "SoftHSM v2"
    expect_field token_manufacturer "SoftHSM project"
}

# --------------------------------------------------------------- chain

# expect_chain_holds [N] : hsm-audit verify accepts LOG (with N records).
# shellcheck disable=SC2120 # N is optional
expect_chain_holds() {
    expect_success hsm_audit verify "$LOG" || return 1
    [ -z "${1:-}" ] || assert_output_contains "a header and $1 records"
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
# signatureValue (without the unused-bits byte) to $TMP/sig.bin, cut out
# where plain OpenSSL's asn1parse places them. A PEM CRL the same
# (TBSCertList, signature).
cert_parts() {
    local der="$TMP/cert.der" kind=x509 first last off hl len
    ! grep -q 'BEGIN X509 CRL' "$1" || kind=crl
    plain_openssl "$kind" -in "$1" -outform DER -out "$der" || return 1
    # The elements of the outer SEQUENCE: "OFF:d=1  hl=HL l= LEN ...".
    first=$(plain_openssl asn1parse -inform DER -in "$der" | grep 'd=1' | head -1)
    last=$(plain_openssl asn1parse -inform DER -in "$der" | grep 'd=1' | tail -1)
    case "$last" in *"BIT STRING"*) ;; *) return 1 ;; esac
    read -r off hl len < <(_asn1_position "$first")
    tail -c +$((off + 1)) "$der" | head -c $((hl + len)) >"$TMP/tbs.der"
    read -r off hl len < <(_asn1_position "$last")
    tail -c +$((off + hl + 2)) "$der" | head -c $((len - 1)) >"$TMP/sig.bin"
}

# _asn1_position LINE : "OFF HL LEN" of an asn1parse line.
_asn1_position() {
    printf '%s\n' "$1" | sed -E 's/^ *([0-9]+):.*hl= *([0-9]+) +l= *([0-9]+).*/\1 \2 \3/'
}

# ------------------------------------------------------------ the holder

# A long-lived process that signs on request (tests/policy/key_holder.c).
# shellcheck disable=SC2034 # read by holder_lib.sh
HOLDER_BIN=${HSM_KEY_HOLDER:-}
# shellcheck source=../integration/holder_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../integration/holder_lib.sh"
