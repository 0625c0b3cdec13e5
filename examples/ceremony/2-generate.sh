#!/bin/sh
# Ceremony step 2: generate the root key on the token.
#
#   2-generate.sh CEREMONY_DIR
#
# openssl genpkey through the hsm provider makes the key pair inside the
# token (private key: token, private, sensitive, never extractable); the
# provider refuses a label or id already in use. What comes back is a key
# reference (root-key.pem: the key's pkcs11: URI, no key material), the
# public key, and the SHA-256 fingerprint of its SubjectPublicKeyInfo, shown
# for the witnesses to write down. pkcs11-tool then shows the key's
# attributes as the token reports them.
#
# Parameters (environment):
#   CEREMONY_KEY_TYPE   ec-p384 (default) or rsa-4096
#
# Outputs: root-key.pem, root-key.pub.pem, root-key.spki.sha256.
# shellcheck source-path=SCRIPTDIR source=ceremony-lib.sh
. "$(dirname "$0")/ceremony-lib.sh"

begin_step 2 generate "$@"

KEY_TYPE=${CEREMONY_KEY_TYPE:-ec-p384}
param CEREMONY_KEY_TYPE "$KEY_TYPE"
case $KEY_TYPE in
ec-p384) set -- -algorithm EC -pkeyopt group:P-384 ;;
rsa-4096) set -- -algorithm RSA -pkeyopt rsa_keygen_bits:4096 ;;
*) die "CEREMONY_KEY_TYPE must be ec-p384 or rsa-4096, not $(quote "$KEY_TYPE")" ;;
esac
load_ceremony_config
record "$HSM_CNF" "configuration from step 1"
URI=$(cat "$CEREMONY_DIR/key.uri")
claim root-key.pem root-key.pub.pem root-key.spki.sha256

find_token
token_guard
get_pin

# -propquery provider=hsm (not ?provider=hsm): the key is made by the hsm
# provider or not at all, never in software as a fallback.
hsm_openssl "generating the key on the token" genpkey -propquery provider=hsm "$@" \
    -pkeyopt "pkcs11_uri:$URI" -out "$PARTIAL/root-key.pem"
GENERATED=$(key_reference_uri "$PARTIAL/root-key.pem") ||
    die "root-key.pem is not a reference to a token key: a key may have been made in software"
say "the key was generated on the token: $GENERATED"
# shellcheck disable=SC2034 # read by _finish_step in ceremony-lib.sh
ON_FAILURE="the key $GENERATED stays on the token but was not published; delete it (pkcs11-tool --delete-object) or keep it out of use"

# The public key, as the provider hands it out after its own checks (every
# public view of the key agrees; the token proved it signs with it).
hsm_openssl "reading the public key" pkey -in "$GENERATED" -pubout \
    -out "$PARTIAL/root-key.pub.pem"
plain_openssl "checking the public key" pkey -pubin -in "$PARTIAL/root-key.pub.pem" -noout -text
FPR=$(spki_fingerprint "$PARTIAL/root-key.pub.pem")
[ "${#FPR}" -eq 64 ] || die "cannot compute the public key's fingerprint"
printf 'SHA256:%s\n' "$FPR" >"$PARTIAL/root-key.spki.sha256"

# The token's own account of the new key (pkcs11-tool, not the provider).
say "the token's objects now (pkcs11-tool):"
p11tool_login "listing the token's objects" --list-objects
cp "$OUT" "$PARTIAL/objects.txt"
ID_HEX=$(printf '%s' "$GENERATED" | sed -n 's/.*;id=\([^;?]*\).*/\1/p' | tr -d '%' |
    tr 'A-F' 'a-f')
ATTRS=$(awk -v id="$ID_HEX" '
    /^[A-Za-z]/ { priv = ($0 ~ /^Private Key Object/); hit = 0 }
    priv && $1 == "ID:" && tolower($2) == id { hit = 1 }
    priv && hit && /^  Access:/ { sub(/^  Access: */, ""); print; exit }' "$PARTIAL/objects.txt")
say "the private key's access flags on the token: $ATTRS"
case $ATTRS in
*"never extractable"*) ;;
*) die "the token does not report the private key as never extractable" ;;
esac
case $ATTRS in
sensitive* | *" sensitive"*) ;;
*) die "the token does not report the private key as sensitive" ;;
esac

publish root-key.pem root-key.pub.pem root-key.spki.sha256
ON_FAILURE=""
say "================================================================"
say "root key fingerprint, SHA-256 of its SubjectPublicKeyInfo:"
say "    $(spaced "$FPR")"
say "witnesses: write this down; step 4 checks the certificate against it"
say "================================================================"
end_step
