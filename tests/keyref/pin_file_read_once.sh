#!/usr/bin/env bash
# Story (issue 14, item 2): a forking server names its PIN file in the
# configuration (pkcs11-module-token-pin = file:PATH). The provider reads it
# when it starts, in the parent, and keeps the PIN in the secure heap: a
# child that logs in later uses that PIN and never the file, whether the
# file has been moved away (a child running as another user could not read
# it either) or rewritten with a wrong PIN. In the process that read it, a
# corrected file is read at the next login: after a wrong PIN, fixing the
# file is enough, without a restart.
# shellcheck source=keyref_lib.sh disable=SC2317
. "$(dirname "$0")/keyref_lib.sh"

prog=$(keyref_bin pin_file_after_fork)
make_token server
make_key server EC:prime256v1 01 tls
require
save_token_pubkey server 01 tls.pub.pem
uri="pkcs11:token=server;id=%01;type=private"

# fresh_pin_file NAME : a PIN file holding the right PIN, mode 0600.
fresh_pin_file() {
    rm -f "$1" "$1.moved"
    printf '%s\n' "$USER_PIN" >"$1"
    chmod 600 "$1"
}

for how in move rewrite; do
    fresh_pin_file "$how.pin"
    write_provider_cnf "$how.cnf" "pkcs11-module-path=$SOFTHSM_MODULE" \
        "pkcs11-module-token-pin=file:$TMP/$how.pin"
    expect_success cnf_keyref "$how.cnf" "$prog" "$TMP/$how.pin" "$how" "$uri" tls.pub.pem
done
check "the rewritten file was not read back (it still holds the wrong PIN)" \
    grep -qx 99999999 rewrite.pin

echo "--- one process: a corrected PIN file is read at the next login"
printf '1111\n' >fixed.pin
chmod 600 fixed.pin
write_provider_cnf fixed.cnf "pkcs11-module-path=$SOFTHSM_MODULE" \
    "pkcs11-module-token-pin=file:$TMP/fixed.pin"
# One process: a load with the wrong PIN, the file corrected, a load again.
expect_success cnf_keyref fixed.cnf "$(keyref_bin load_twice)" "$uri" "$TMP/fixed.pin" "$USER_PIN"

finish
