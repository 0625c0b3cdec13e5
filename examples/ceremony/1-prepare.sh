#!/bin/sh
# Ceremony step 1: prepare.
#
#   1-prepare.sh CEREMONY_DIR
#
# Shows the token's identity (label, serial, model, manufacturer, flags;
# free space is not reported by pkcs11-tool) and every object on it, and
# refuses to go on if the root key's label or id is already in use. Pins
# the token (by label and serial), the PKCS#11 library and the PIN source in
# CEREMONY_DIR/openssl-hsm.cnf, which every later step uses.
#
# Parameters (environment):
#   CEREMONY_MODULE        the token's PKCS#11 library (required)
#   CEREMONY_TOKEN         the token's label (required)
#   CEREMONY_TOKEN_SERIAL  its serial number, when several tokens share the label
#   CEREMONY_KEY_LABEL     the label the root key will have (required)
#   CEREMONY_KEY_ID        its CKA_ID in hex (optional; the provider picks one)
#   CEREMONY_PIN_FILE      a PIN file only its owner can read (auto-activation);
#                          without it each step asks for the PIN (or takes
#                          HSM_CEREMONY_PIN from the environment)
#   CEREMONY_PROVIDER      the provider: "hsm" (installed) or the path of hsm.so
#   CEREMONY_AUDIT_LOG     the provider's audit log, an absolute path (default
#                          CEREMONY_DIR/audit.log; a CA's existing log is
#                          checked and extended)
#
# Outputs: openssl-hsm.cnf, token.txt (identity and objects), key.uri.
# shellcheck source-path=SCRIPTDIR source=ceremony-lib.sh
. "$(dirname "$0")/ceremony-lib.sh"

begin_step 1 prepare "$@"

need CEREMONY_MODULE CEREMONY_TOKEN CEREMONY_KEY_LABEL
PROVIDER=${CEREMONY_PROVIDER:-hsm}
MODULE=$CEREMONY_MODULE
TOKEN_LABEL=$CEREMONY_TOKEN
TOKEN_SERIAL=${CEREMONY_TOKEN_SERIAL:-}
KEY_LABEL=$CEREMONY_KEY_LABEL
KEY_ID=$(printf '%s' "${CEREMONY_KEY_ID:-}" | tr 'A-F' 'a-f')
CEREMONY_AUDIT_LOG=${CEREMONY_AUDIT_LOG:-$CEREMONY_DIR/audit.log}
for p in CEREMONY_MODULE CEREMONY_TOKEN CEREMONY_TOKEN_SERIAL CEREMONY_KEY_LABEL \
    CEREMONY_KEY_ID CEREMONY_PIN_FILE CEREMONY_PROVIDER CEREMONY_AUDIT_LOG; do
    param_env "$p"
done
safe_value CEREMONY_MODULE "$MODULE"
safe_value CEREMONY_PROVIDER "$PROVIDER"
safe_value CEREMONY_AUDIT_LOG "$CEREMONY_AUDIT_LOG"
case $CEREMONY_AUDIT_LOG in
/*) ;;
*) die "CEREMONY_AUDIT_LOG must be an absolute path: $(quote "$CEREMONY_AUDIT_LOG")" ;;
esac
[ -f "$MODULE" ] || die "the PKCS#11 library $MODULE does not exist"
case $KEY_ID in
'') ;;
*[!0-9a-f]*) die "CEREMONY_KEY_ID must be hexadecimal: $(quote "$KEY_ID")" ;;
*) [ $((${#KEY_ID} % 2)) -eq 0 ] || die "CEREMONY_KEY_ID must have an even number of hex digits" ;;
esac

claim openssl-hsm.cnf token.txt key.uri
# A CA's log that already exists must hold before the ceremony extends it.
if [ -e "$CEREMONY_AUDIT_LOG" ]; then
    audit_check "$CEREMONY_AUDIT_LOG"
else
    say "the audit log $CEREMONY_AUDIT_LOG is new: the provider starts its chain"
fi

if [ -n "${CEREMONY_PIN_FILE:-}" ]; then
    safe_value CEREMONY_PIN_FILE "$CEREMONY_PIN_FILE"
    PIN_SOURCE=file:$CEREMONY_PIN_FILE
else
    PIN_SOURCE=env:HSM_CEREMONY_PIN
fi

find_token
# field NAME : a field of the token's description by pkcs11-tool.
field() {
    sed -n "s/^  $1 *: //p" "$PARTIAL/token-info.txt" | head -n 1
}
say "the token: slot $SLOT"
say "    label        : $(field 'token label')"
say "    serial       : $(field 'serial num')"
say "    model        : $(field 'token model')"
say "    manufacturer : $(field 'token manufacturer')"
say "    flags        : $(field 'token flags')"
say "    free space   : not reported (pkcs11-tool does not show it; see the token vendor's tools)"
token_guard

# Before any login: a bad PIN file stops here with nothing sent.
get_pin
say "the objects on the token (logged in, so private objects are listed too):"
p11tool_login "listing the token's objects" --list-objects
cp "$OUT" "$PARTIAL/objects.txt"
OBJECTS=$(grep -ci '^[a-z].* object' "$PARTIAL/objects.txt")
say "$OBJECTS objects on the token"

LABEL_USERS=$(awk -v want="$KEY_LABEL" '
    /^[A-Za-z]/ { obj = $0 }
    /^  label: / { l = $0; sub(/^  label: */, "", l); if (l == want) print obj }' \
    "$PARTIAL/objects.txt")
[ -z "$LABEL_USERS" ] ||
    die "the label '$KEY_LABEL' is already in use on the token ($(printf '%s' "$LABEL_USERS" | paste -sd ';' -)); choose another CEREMONY_KEY_LABEL"
if [ -n "$KEY_ID" ]; then
    ID_USERS=$(awk -v want="$KEY_ID" '
        /^[A-Za-z]/ { obj = $0 }
        $1 == "ID:" && tolower($2) == want { print obj }' "$PARTIAL/objects.txt")
    [ -z "$ID_USERS" ] ||
        die "the id $KEY_ID is already in use on the token ($(printf '%s' "$ID_USERS" | paste -sd ';' -)); choose another CEREMONY_KEY_ID"
fi
say "the label '$KEY_LABEL'${KEY_ID:+ and the id $KEY_ID} are free"

URI="pkcs11:token=$(pct_encode "$TOKEN_LABEL");serial=$(pct_encode "$TOKEN_SERIAL")"
URI="$URI;object=$(pct_encode "$KEY_LABEL")"
[ -z "$KEY_ID" ] || URI="$URI;id=$(printf '%s' "$KEY_ID" | sed 's/../%&/g')"
URI="$URI;type=private"
printf '%s\n' "$URI" >"$PARTIAL/key.uri"

{
    printf 'token label: %s\n' "$TOKEN_LABEL"
    printf 'token serial: %s\n' "$TOKEN_SERIAL"
    printf 'key label: %s\n' "$KEY_LABEL"
    printf 'key id: %s\n' "$KEY_ID"
    printf 'module: %s\n' "$MODULE"
    printf 'prepared: %s\n' "$(utc)"
    printf '\n# pkcs11-tool --list-token-slots, this token:\n'
    cat "$PARTIAL/token-info.txt"
    printf '\n# pkcs11-tool --list-objects (%s objects):\n' "$OBJECTS"
    cat "$PARTIAL/objects.txt"
} >"$PARTIAL/token.txt"

# The configuration every later step gives OpenSSL. default is listed before
# hsm (see openssl.cnf.d/hsm.cnf); it names the PIN's source, never the PIN.
{
    printf '# OpenSSL configuration of the ceremony in %s\n' "$CEREMONY_DIR"
    printf '# written by 1-prepare.sh at %s. It holds no PIN.\n' "$(utc)"
    printf 'openssl_conf = openssl_init\n\n[openssl_init]\nproviders = provider_sect\n\n'
    printf '[provider_sect]\ndefault = default_sect\nhsm = hsm_sect\n\n'
    printf '[default_sect]\nactivate = 1\n\n[hsm_sect]\n'
    printf 'module = %s\n' "$PROVIDER"
    printf 'pkcs11-module-path = %s\n' "$MODULE"
    printf 'pkcs11-module-token-pin = %s\n' "$PIN_SOURCE"
    printf '# Every use of the token key is recorded (hsm-audit verify checks it).\n'
    printf 'audit-log = %s\n' "$CEREMONY_AUDIT_LOG"
    printf 'activate = 1\n'
} >"$PARTIAL/openssl-hsm.cnf"
say "openssl-hsm.cnf:"
say_file "$PARTIAL/openssl-hsm.cnf"

# The configuration must load the provider, or later steps fail halfway.
# shellcheck disable=SC2034 # read by hsm_openssl in ceremony-lib.sh
HSM_CNF=$PARTIAL/openssl-hsm.cnf
hsm_openssl "loading the hsm provider" list -providers
grep -q '^  hsm$' "$OUT" || die "the configuration does not activate the hsm provider"

say "the root key will be generated as $URI"
AUDIT_LOG=$CEREMONY_AUDIT_LOG
audit_note "ceremony $CEREMONY_DIR: $STEP_TAG, operator $(id -un) on $(uname -n): token '$TOKEN_LABEL' (serial $TOKEN_SERIAL) through $MODULE; the root key will be generated as $URI"
publish openssl-hsm.cnf token.txt key.uri
end_step
