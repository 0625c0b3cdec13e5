#!/usr/bin/env bash
# An installer checks which module an instance reaches: `openssl list
# -providers -verbose` shows, in hsm's build information, the module its
# configuration names, or p11-kit's proxy when none is named; `openssl
# list -store-loaders` offers the pkcs11 scheme.
# shellcheck source=lib.sh disable=SC2317 # functions are run through _run
. "$(dirname "$0")/lib.sh"

make_token list
require

# hsm_block FILE : the lines `openssl list -providers` prints for hsm.
hsm_block() {
    awk '/^  [^ ]/ { inside = ($1 == "hsm") } inside' "$1"
}

write_provider_cnf named.cnf "pkcs11-module-path=$SOFTHSM_MODULE"
expect_success cnf_openssl named.cnf list -providers -verbose &&
    hsm_block "$LAST_OUT" >named.block
check "the named module is in hsm's build information" \
    grep -qF "PKCS#11 module: $SOFTHSM_MODULE" named.block
check "the version of the build is there too" grep -qF "hsm $HSM_VERSION " named.block

write_provider_cnf proxy.cnf
expect_success cnf_openssl proxy.cnf list -providers -verbose &&
    hsm_block "$LAST_OUT" >proxy.block
check "with no module named, p11-kit's proxy is shown" \
    grep -qE "PKCS#11 module: (/[^ ]*/)?p11-kit-proxy.so " proxy.block

expect_success cnf_openssl named.cnf list -store-loaders
assert_output_matches '(^|[^a-z0-9])pkcs11([^a-z0-9]|$)' "the pkcs11 scheme is offered"

finish
