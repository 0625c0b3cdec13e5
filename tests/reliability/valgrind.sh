#!/usr/bin/env bash
# Story: the provider neither corrupts memory nor leaks it, inside the real
# openssl binary and inside a long-lived process. Integration-style
# commands (req -x509, dgst -sign, pkey -pubout, storeutl, refused loads)
# and the key holder (load, sign, reload, drop, a refused load) run under
# valgrind memcheck. Any memory error fails the scenario; a definite leak
# fails it when a frame of its allocation stack is in hsm.so (leaks of
# openssl, SoftHSMv2 and p11-kit themselves are counted and shown, not
# judged). valgrind.supp here holds suppressions, each with its reason.
# The same judgement runs over the whole integration suite in meson's
# 'valgrind' suite (HSM_TEST_VALGRIND=1, tests/integration/memcheck_lib.sh).
# Skipped in sanitized builds (valgrind and ASan do not mix).
# shellcheck source=rel_lib.sh
. "$(dirname "$0")/rel_lib.sh"

skip_when_sanitized "valgrind cannot run an ASan-instrumented provider"
if ! command -v valgrind >/dev/null; then
    fail "valgrind is not installed"
    finish
fi
CMD_TIMEOUT=180
VG_N=0

make_token vg
make_key vg EC:prime256v1 01 ec
make_key vg rsa:2048 02 rsa
save_token_pubkey vg 01 ec.pem
save_token_pubkey vg 02 rsa.pem
require
write_provider_cnf vg.cnf "pkcs11-module-path=$SOFTHSM_MODULE"
ec="pkcs11:token=vg;id=%01;type=private?pin-value=$USER_PIN"
rsa="pkcs11:token=vg;id=%02;type=private?pin-value=$USER_PIN"

# vg_args : the valgrind command line for the next run, VG (its XML report
# is VG_XML, $TMP/log/vg.N.xml). memcheck_cmd and memcheck_judge are the
# integration suite's (tests/integration/memcheck_lib.sh), so this scenario
# and the 'valgrind' suite judge alike.
vg_args() {
    VG_N=$((VG_N + 1))
    VG_XML="$TMP/log/vg.$VG_N.xml"
    memcheck_cmd "$VG_XML"
    VG=("${MEMCHECK[@]}")
}

# vg_openssl DESC EXPECT CMD... : openssl (OPENSSL_CONF=vg.cnf) under
# valgrind; EXPECT is ok (must succeed) or refused (must fail cleanly).
vg_openssl() {
    local desc=$1 expect=$2
    shift 2
    vg_args
    _run env OPENSSL_CONF=vg.cnf OPENSSL_MODULES="$HSM_PROVIDER_DIR" \
        timeout -k 10 "$CMD_TIMEOUT" "${VG[@]}" "$OPENSSL_BIN" "$@"
    case "$expect:$LAST_RC" in
    ok:0 | refused:[1-9] | refused:[1-9][0-9]) ;;
    *)
        fail "$desc: $(_status_text) (expected $expect)"
        _show_last
        ;;
    esac
    memcheck_judge "$desc" "$VG_XML"
}

vg_openssl "req -x509 (P-256)" ok req -new -x509 -key "$ec" -subj /CN=VG -days 1 -out root.pem
verify_root root.pem ec.pem
vg_openssl "dgst -sign (RSA-2048)" ok dgst -sha256 -sign "$rsa" -out sig.rsa "$DATA"
verify_sig "the RSA signature made under valgrind verifies" rsa.pem sig.rsa "$DATA"
vg_openssl "pkeyutl -sign (P-256)" ok pkeyutl -sign -inkey "$ec" -rawin -digest sha256 \
    -in "$DATA" -out sig.ec
verify_sig "the EC signature made under valgrind verifies" ec.pem sig.ec "$DATA"
vg_openssl "pkey -pubout" ok pkey -in "$rsa" -pubout -out rsa-pub.pem
vg_openssl "storeutl listing" ok storeutl "pkcs11:token=vg?pin-value=$USER_PIN"
vg_openssl "a load that matches no object" refused pkey -in \
    "pkcs11:token=vg;object=none;type=private?pin-value=$USER_PIN" -pubout -out none.pem
vg_openssl "a load with a wrong PIN" refused pkey -in \
    "pkcs11:token=vg;id=%01;type=private?pin-value=0000" -pubout -out wrong.pem
vg_openssl "a malformed URI" refused pkey -in "pkcs11:token=vg;id=%zz" -pubout -out bad.pem
vg_openssl "an ambiguous URI" refused pkey -in "pkcs11:token=vg;type=private?pin-value=$USER_PIN" \
    -pubout -out amb.pem

# The long-lived process: loads, signs, reloads, drops, quits.
vg_args
holder_start vg.cnf timeout -k 10 "$CMD_TIMEOUT" "${VG[@]}" || finish
holder_ok "loads ec under valgrind" "load ec $ec"
holder_ok "loads rsa under valgrind" "load rsa $rsa"
holder_sign_verifies "signs with ec under valgrind" ec ec.pem
holder_sign_verifies "signs with rsa under valgrind" rsa rsa.pem
holder_ok "reloads ec under valgrind" "load ec $ec"
holder_sign_verifies "signs with the reloaded ec" ec ec.pem
holder_ok "drops rsa" "drop rsa"
holder_send "load none pkcs11:token=vg;object=none;type=private?pin-value=$USER_PIN"
holder_stop
memcheck_judge "the key holder" "$VG_XML"

finish
