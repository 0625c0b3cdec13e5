#!/usr/bin/env bash
# Story: the provider's default module is p11-kit's proxy, which reaches
# every module registered with p11-kit. Some of them are broken: NSS
# softoken registered with a database directory that no longer exists
# (fails C_Initialize with NSS's CKR_NSS_CERTDB_FAILED; registered with no
# arguments at all, it failed with CKR_ARGUMENTS_BAD up to NSS 3.87,
# Debian 12, and opens without a database from 3.110, Debian 13),
# tpm2-pkcs11 with no TPM reachable (prints TCTI errors), a module file
# naming a library that does not exist. The
# provider still reaches the SoftHSMv2 token and signs. When p11-kit itself
# refuses (the broken module is marked critical), the error names the
# module that failed and how to disable it for this program (p11-kit's
# disable-in); doing what it says makes the provider work again.
# The registrations are a private directory mounted over
# /usr/share/p11-kit/modules in the scenario's own mount namespace: no
# other program on the machine sees them.
HSM_MODULE_DRIVER=softhsm-proxy
export HSM_MODULE_DRIVER
# shellcheck source=modules_lib.sh disable=SC2317
. "$(dirname "$0")/modules_lib.sh"

mods="$TMP/p11-kit-modules"
mkdir -p "$mods"
cp /usr/share/p11-kit/modules/softhsm2.module "$mods/"
tpm2_so=$(ls /opt/hsm-tests/tpm2-pkcs11/usr/lib/*/libtpm2_pkcs11.so.1.* \
    /opt/hsm-tests/tpm2-pkcs11/usr/lib/*/pkcs11/libtpm2_pkcs11.so.1.* 2>/dev/null | head -1)
printf "module: %s\nx-init-reserved: configdir='sql:%s' certPrefix='' keyPrefix='' secmod='secmod.db'\n" \
    "$NSS_MODULE" "$TMP/removed-profile" >"$mods/nss-gone-db.module"
printf 'module: %s\n' "$TMP/no-such-library.so" >"$mods/missing.module"
[ -z "$tpm2_so" ] || printf 'module: %s\n' "$tpm2_so" >"$mods/tpm2.module"
export TPM2_PKCS11_TCTI=swtpm:host=127.0.0.1,port=9 HOME="$TMP"
mount --bind "$mods" /usr/share/p11-kit/modules || {
    fail "cannot mount the private p11-kit registrations"
    finish
}
check "the registrations in this namespace are the test's" \
    test -e /usr/share/p11-kit/modules/nss-gone-db.module

require_step drv_keygen ec 01 k
save_token_pubkey "$TOKEN" 01 k.pem
uri=$(mod_uri 01)
expect_success cnf_openssl "$MOD_CNF" pkey -in "$uri" -pubout -out k-proxy.pem &&
    same_pubkey "through the proxy with broken neighbours, the token's key" k-proxy.pem k.pem
expect_success cnf_openssl "$MOD_CNF" dgst -sha256 -sign "$uri" -out sig "$DATA" &&
    verify_sig "its signature verifies (plain OpenSSL)" k.pem sig "$DATA"

# p11-kit refuses when a module marked critical fails.
printf 'critical: yes\n' >>"$mods/nss-gone-db.module"
expect_failure_with --any-file "cannot load PKCS#11 module" \
    cnf_openssl "$MOD_CNF" pkey -in "$uri" -pubout -out k-critical.pem &&
    assert_output_matches "'nss-gone-db' \(CKR_[0-9A-Za-z_]+, critical\)" \
        "the error names the failing module, its code, and that it is critical" &&
    assert_output_contains "disable-in: openssl"

# What the error says to do works.
printf 'disable-in: openssl\n' >>"$mods/nss-gone-db.module"
expect_success cnf_openssl "$MOD_CNF" pkey -in "$uri" -pubout -out k-disabled.pem &&
    same_pubkey "with the critical module disabled for openssl, the token's key" k-disabled.pem k.pem
finish
