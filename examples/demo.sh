#!/bin/sh
# The demo: a SoftHSMv2 token in a temporary directory, a P-256 key made on
# it, a self-signed root certificate from `openssl req` through the
# provider, verified with plain OpenSSL (no provider), printed as text.
#
#   sh examples/demo.sh [DIR_WITH_hsm.so]
#
# Without a directory, the provider installed in OpenSSL's modules
# directory is used (the Debian package's).
set -eu
provider_path=""
if [ $# -gt 0 ]; then
    provider_path="-provider-path $(cd "$1" && pwd)"
fi
module=/usr/lib/softhsm/libsofthsm2.so
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

mkdir "$work/tokens"
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' \
    "$work" > "$work/softhsm2.conf"
export SOFTHSM2_CONF="$work/softhsm2.conf"
umask 077
printf '1234\n' > "$work/pin"

echo "== a token and a P-256 key made on it"
softhsm2-util --init-token --free --label demo-ca --pin 1234 --so-pin 5678 >/dev/null
pkcs11-tool --module "$module" --token-label demo-ca --login --pin 1234 \
    --keypairgen --key-type EC:prime256v1 --id 01 --label root >/dev/null 2>&1
pkcs11-tool --module "$module" --token-label demo-ca --read-object --type pubkey --id 01 \
    -o "$work/pub.der" >/dev/null 2>&1
openssl pkey -pubin -inform DER -in "$work/pub.der" -out "$work/token-pub.pem"

uri="pkcs11:token=demo-ca;object=root;type=private?pin-source=file:$work/pin"
echo "== openssl req through the provider, key $uri"
# shellcheck disable=SC2086 # provider_path is an option and its value, or nothing
openssl req -new -x509 $provider_path -provider hsm -provider default \
    -key "$uri" -subj "/CN=Demo Root CA" -days 30 -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$work/root.pem"

echo "== checked with plain OpenSSL, no provider"
openssl verify -check_ss_sig -CAfile "$work/root.pem" "$work/root.pem"
openssl x509 -in "$work/root.pem" -noout -pubkey | cmp -s - "$work/token-pub.pem" ||
    { echo "the certificate's key is not the token's key" >&2; exit 1; }
echo "the certificate's public key is the token's public key"
openssl x509 -in "$work/root.pem" -noout -text
