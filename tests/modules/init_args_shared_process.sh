#!/usr/bin/env bash
# Story: NSS softoken named directly with pkcs11-module-init-args, in a
# process that may use NSS itself and that forks. The provider initialises
# the module with its own C_Initialize (p11-kit's managed initialisation
# cannot pass pReserved) and keeps what p11-kit gave: when the application
# initialised the module first (CKR_CRYPTOKI_ALREADY_INITIALIZED) the
# provider signs with it and never finalises it; when the provider alone
# initialised it, it finalises it at exit; a forked child initialises it
# again and signs. Every signature verifies under the token's public key.
HSM_MODULE_DRIVER=nss
export HSM_MODULE_DRIVER
# shellcheck source=modules_lib.sh disable=SC2317
. "$(dirname "$0")/modules_lib.sh"

prog=${HSM_INIT_ARGS_SHARING:-}
require_step drv_keygen ec 01 k
save_token_pubkey "$TOKEN" 01 k.pem
uri=$(mod_uri 01)

expect_success cnf_program "$MOD_CNF" "$prog" shared "$NSS_MODULE" "$uri" k.pem
cat "$LAST_OUT"
assert_output_contains "the application's C_Initialize: 0x0"
assert_output_contains "child: signature verifies"
assert_output_contains "parent after the fork: signature verifies"
assert_output_contains "C_Initialize 0x191 (still initialised)"
assert_output_contains "the application's C_Finalize: 0x0"

expect_success cnf_program "$MOD_CNF" "$prog" alone "$NSS_MODULE" "$uri" k.pem
cat "$LAST_OUT"
assert_output_contains "child: signature verifies"
assert_output_contains "parent after the fork: signature verifies"
assert_output_contains "C_Initialize 0x0 (had been finalised)"

finish
