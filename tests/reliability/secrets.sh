#!/usr/bin/env bash
# Story: a PIN never leaks. A token is made with an unusual PIN; commands
# that succeed and commands that fail (wrong PIN, misspelt attributes,
# malformed URIs, missing objects, a token fault) run with the PIN in the
# URI (pin-value), in a PIN file (pin-source, pkcs11-module-token-pin =
# file:), in the configuration, in the environment (env:) and from the
# passphrase prompt (-passin), with the provider's debug log at its most
# verbose and the fault shim's call log on. Then every stdout, stderr,
# answer, output file and log is searched for the PIN (as text, percent-
# encoded and in hex): it is found nowhere. (pkcs11-spy is not used: it
# prints C_Login's arguments by design.)
# shellcheck source=rel_lib.sh
. "$(dirname "$0")/rel_lib.sh"

PIN='Zq8-PIN-7781'
PIN_PCT='Zq8%2DPIN%2D7781'
PIN_HEX=$(printf '%s' "$PIN" | od -An -tx1 | tr -d ' \n')
WRONG='Wr0ng-PIN-5550'
WRONG_HEX=$(printf '%s' "$WRONG" | od -An -tx1 | tr -d ' \n')

make_token sec "$PIN"
make_key sec EC:prime256v1 01 ec "$PIN"
make_key sec rsa:2048 02 rsa "$PIN"
save_token_pubkey sec 01 ec.pem
save_token_pubkey sec 02 rsa.pem
require
FIRST_CMD=$((CMD_NO + 1)) # set-up commands above carry the PIN on purpose

export HSM_DEBUG_LOG="$TMP/log/hsm-debug.log"
export HSM_DEBUG_LEVEL=9
printf '%s\n' "$PIN" >"$TMP/secret.pin"
chmod 600 "$TMP/secret.pin"
SHIM_CTL="$TMP/shim.ctl"
: >"$SHIM_CTL"

write_provider_cnf plain.cnf "pkcs11-module-path=$SOFTHSM_MODULE"
write_provider_cnf pin.cnf "pkcs11-module-path=$SOFTHSM_MODULE" "pkcs11-module-token-pin=$PIN"
write_provider_cnf pinfile.cnf "pkcs11-module-path=$SOFTHSM_MODULE" \
    "pkcs11-module-token-pin=file:$TMP/secret.pin"
write_provider_cnf pinenv.cnf "pkcs11-module-path=$SOFTHSM_MODULE" \
    "pkcs11-module-token-pin=env:HSM_SECRET_TEST_PIN"
write_provider_cnf wrong.cnf "pkcs11-module-path=$SOFTHSM_MODULE" "pkcs11-module-token-pin=$WRONG"

ec="pkcs11:token=sec;id=%01;type=private"
rsa="pkcs11:token=sec;id=%02;type=private"

# ------------------------------------------------------------ successes
expect_success cnf_openssl plain.cnf req -new -x509 -key "$ec?pin-value=$PIN" -subj /CN=Secret \
    -days 1 -out root.pem
verify_root root.pem ec.pem
expect_success cnf_openssl plain.cnf req -new -x509 -key "$ec?pin-value=$PIN_PCT" \
    -subj /CN=Pct -days 1 -out root-pct.pem
expect_success cnf_openssl plain.cnf dgst -sha256 -sign "$rsa?pin-source=file:$TMP/secret.pin" \
    -out sig.rsa "$DATA"
verify_sig "the pin-source signature verifies" rsa.pem sig.rsa "$DATA"
expect_success cnf_openssl pin.cnf pkeyutl -sign -inkey "$ec" -rawin -digest sha256 -in "$DATA" \
    -out sig.ec1
verify_sig "the configured-PIN signature verifies" ec.pem sig.ec1 "$DATA"
expect_success cnf_openssl pinfile.cnf dgst -sha256 -sign "$ec" -out sig.ec2 "$DATA"
# shellcheck disable=SC2046
expect_success env $(_preload_env) HSM_SECRET_TEST_PIN="$PIN" OPENSSL_CONF=pinenv.cnf \
    OPENSSL_MODULES="$HSM_PROVIDER_DIR" timeout -k 10 "$CMD_TIMEOUT" "$OPENSSL_BIN" \
    dgst -sha256 -sign "$ec" -out sig.ec3 "$DATA"
verify_sig "the env: PIN signature verifies" ec.pem sig.ec3 "$DATA"
expect_success cnf_openssl plain.cnf req -new -x509 -key "$ec" -passin "pass:$PIN" \
    -subj /CN=Prompt -days 1 -out root-prompt.pem
expect_success hsm_openssl storeutl -keys "pkcs11:token=sec?pin-value=$PIN"
expect_success hsm_openssl storeutl "pkcs11:token=sec?pin-value=$PIN"
expect_success cnf_openssl plain.cnf pkey -in "$rsa?pin-value=$PIN" -pubout -out rsa-pub.pem
expect_success cnf_openssl pin.cnf pkey -in "$rsa" -pubout -out rsa-pub2.pem

# -------------------------------------------------------------- failures
for uri in \
    "$ec?pin-value=$WRONG" \
    "$ec?pin-valeu=$PIN" \
    "$ec?pin-value=$PIN&foo=bar" \
    "$ec?foo=$PIN" \
    "pkcs11:token=sec;pin-value=$PIN;id=%01" \
    "pkcs11:token=sec;object=%zz;type=private?pin-value=$PIN" \
    "pkcs11:token=sec;id=%01;type=private?pin-value=$PIN%" \
    "pkcs11:token=sec;object=nope;type=private?pin-value=$PIN" \
    "pkcs11:token=nope;id=%01;type=private?pin-value=$PIN" \
    "pkcs11:token=sec;type=private?pin-value=$PIN" \
    "$ec?module-path=/nonexistent.so&pin-value=$PIN" \
    "$ec?pin-value=$PIN&pin-value=$WRONG"; do
    expect_clean_refusal "a refused load" cnf_openssl plain.cnf pkey -in "$uri" -pubout \
        -out refused.pem
done
expect_clean_refusal "the configured PIN is wrong" cnf_openssl wrong.cnf dgst -sha256 \
    -sign "$ec" -out sig.wrong "$DATA"
expect_clean_refusal "-passin gives a wrong PIN" cnf_openssl plain.cnf req -new -x509 -key "$ec" \
    -passin "pass:$WRONG" -subj /CN=Prompt -days 1 -out root-wrong.pem

# -------------------------------------------- a long-lived process, a fault
if [ -n "${HSM_FAULT_SHIM:-}" ] && [ -e "$HSM_FAULT_SHIM" ]; then
    export HSM_SHIM_MODULE="$SOFTHSM_MODULE" HSM_SHIM_CONTROL="$SHIM_CTL"
    export HSM_SHIM_LOG="$TMP/log/shim-calls.log"
    write_provider_cnf shim.cnf "pkcs11-module-path=$HSM_FAULT_SHIM"
    holder_start shim.cnf || finish
    holder_ok "loads with the PIN in the URI" "load ec $ec?pin-value=$PIN"
    holder_ok "loads with a PIN file" "load rsa $rsa?pin-source=file:$TMP/secret.pin"
    holder_sign_verifies "signs with ec" ec ec.pem
    holder_sign_verifies "signs with rsa" rsa rsa.pem
    # The token "goes away" and comes back: the provider logs in again with
    # the PIN it kept.
    printf 'fail * * CKR_DEVICE_REMOVED\n' >"$SHIM_CTL.new" && mv "$SHIM_CTL.new" "$SHIM_CTL"
    holder_sign_fails_with "signing while the token is removed" ec CKR_DEVICE_REMOVED
    printf 'fail C_Sign 1 CKR_SESSION_HANDLE_INVALID\n' >"$SHIM_CTL.new" &&
        mv "$SHIM_CTL.new" "$SHIM_CTL"
    holder_sign_recovers "signs after the token is back" ec ec.pem
    holder_sign_recovers "rsa signs after the token is back" rsa rsa.pem
    holder_send "load bad $ec?pin-value=$WRONG"
    holder_stop
else
    fail "the fault-injection shim is not built (HSM_FAULT_SHIM=${HSM_FAULT_SHIM:-unset})"
fi

# ------------------------------------------------------------ the search
# Everything the commands printed or wrote, except what holds the PIN by
# our own hand: the set-up commands' logs, the command lines (*.cmd), the
# PIN file, the configuration files, the holder's input lines, the URI
# the commands were given, and the token directory.
scan=()
while IFS= read -r -d '' f; do
    case $f in
    "$TMP"/tokens/* | *.cmd | "$TMP/secret.pin" | *.cnf | */transcript | */holder*/in) continue ;;
    "$TMP"/log/[0-9]*.out | "$TMP"/log/[0-9]*.err)
        n=${f##*/}
        n=${n%%.*}
        [ "$n" -ge "$FIRST_CMD" ] || continue
        ;;
    esac
    scan+=("$f")
done < <(find "$TMP" -type f -print0)
for t in "$TMP"/holder*/transcript; do
    [ -e "$t" ] && grep '^< ' "$t" >"$TMP/holder-answers.txt" && scan+=("$TMP/holder-answers.txt")
done
check "the provider's debug log was written" test -s "$TMP/log/hsm-debug.log"
echo "searched ${#scan[@]} files ($(cat "${scan[@]}" | wc -c) bytes), the debug log has" \
    "$(wc -l <"$TMP/log/hsm-debug.log") lines, the shim log $(wc -l <"$TMP/log/shim-calls.log" 2>/dev/null || echo 0)"
# The openssl command repeats its own -in/-key argument when a load fails
# ("Could not read key from URI"; OpenSSL 3.5: "Could not find private key
# of key from URI"), and OpenSSL's file store names it when
# it tries the URI as a file name after the provider refused it: those
# lines echo what the user typed and are not the provider's; they are
# counted apart. A user who keeps the PIN off the command line (PIN file,
# configuration, prompt) is not exposed by them.
OPENSSL_ECHO='^Could not (read|open|find) .*from pkcs11:|^Could not open file or uri for loading .* from pkcs11:|file_store\.c:[0-9]+:calling stat\(pkcs11:'
for needle in "$PIN" "$PIN_PCT" "$PIN_HEX" "$WRONG" "$WRONG_HEX"; do
    hits=$(grep -ahF -- "$needle" "${scan[@]}" | grep -avE -- "$OPENSSL_ECHO")
    echoes=$(grep -ahF -- "$needle" "${scan[@]}" | grep -acE -- "$OPENSSL_ECHO")
    if [ -n "$hits" ]; then
        fail "\"$needle\" appears in output the provider wrote or influenced:"
        grep -alF -- "$needle" "${scan[@]}" | sed "s|^$TMP/|  in |" | head -5
        printf '%s\n' "$hits" | head -5 | cut -c1-300 | sed 's/^/  | /'
    else
        pass "\"$needle\" appears in none of the ${#scan[@]} files ($echoes lines where openssl echoes its own argument)"
    fi
done
finish
