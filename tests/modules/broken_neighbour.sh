#!/usr/bin/env bash
# Story: the provider's default module is p11-kit's proxy, which reaches
# every module registered with p11-kit. One of them is broken: NSS softoken
# registered without its C_Initialize arguments (fails C_Initialize with
# CKR_ARGUMENTS_BAD), tpm2-pkcs11 with no TPM reachable (prints TCTI
# errors), a module file naming a library that does not exist. The
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
tpm2_so=$(ls /opt/hsm-tests/tpm2-pkcs11/usr/lib/*/libtpm2_pkcs11.so.1.* 2>/dev/null | head -1)
printf 'module: %s\n' "$NSS_MODULE" >"$mods/nss-no-args.module"
printf 'module: %s\n' "$TMP/no-such-library.so" >"$mods/missing.module"
[ -z "$tpm2_so" ] || printf 'module: %s\n' "$tpm2_so" >"$mods/tpm2.module"
export TPM2_PKCS11_TCTI=swtpm:host=127.0.0.1,port=9 HOME="$TMP"
mount --bind "$mods" /usr/share/p11-kit/modules || {
    fail "cannot mount the private p11-kit registrations"
    finish
}
check "the registrations in this namespace are the test's" \
    test -e /usr/share/p11-kit/modules/nss-no-args.module

require_step drv_keygen ec 01 k
save_token_pubkey "$TOKEN" 01 k.pem
uri=$(mod_uri 01)
expect_success cnf_openssl "$MOD_CNF" pkey -in "$uri" -pubout -out k-proxy.pem &&
    same_pubkey "through the proxy with broken neighbours, the token's key" k-proxy.pem k.pem
expect_success cnf_openssl "$MOD_CNF" dgst -sha256 -sign "$uri" -out sig "$DATA" &&
    verify_sig "its signature verifies (plain OpenSSL)" k.pem sig "$DATA"

# p11-kit refuses when a module marked critical fails.
printf 'critical: yes\n' >>"$mods/nss-no-args.module"
expect_failure_with --any-file "cannot load PKCS#11 module" \
    cnf_openssl "$MOD_CNF" pkey -in "$uri" -pubout -out k-critical.pem &&
    assert_output_contains "'nss-no-args' (CKR_ARGUMENTS_BAD, critical)" &&
    assert_output_contains "disable-in: openssl"

# What the error says to do works.
printf 'disable-in: openssl\n' >>"$mods/nss-no-args.module"
expect_success cnf_openssl "$MOD_CNF" pkey -in "$uri" -pubout -out k-disabled.pem &&
    same_pubkey "with the critical module disabled for openssl, the token's key" k-disabled.pem k.pem
finish
