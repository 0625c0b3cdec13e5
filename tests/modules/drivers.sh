# shellcheck shell=bash
# The module drivers of the matrix (modules_lib.sh says what each sets).
# shellcheck disable=SC2034,SC2154 # the variables are modules_lib.sh's (WHY is its associative array)
# Sourced by modules_lib.sh inside the scenario's private namespaces.

# wait_for DESC CMD... : up to 10 s for CMD to succeed.
wait_for() {
    local desc=$1
    shift
    for _ in $(seq 100); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    fail "$desc did not come up"
    return 1
}

# bg NAME CMD... : a daemon of the scenario, its output under log/.
bg() {
    local name=$1
    shift
    "$@" >"$TMP/log/$name.out" 2>"$TMP/log/$name.err" &
    BACKGROUND_PIDS+=("$!")
}

# ---------------------------------------------------------------- SoftHSMv2

softhsm_common() {
    TOKEN=mod
    TOKEN_URI=mod
    TOOL_MODULE=$SOFTHSM_MODULE
    KEY_TYPES="ec rsa"
    make_token mod
    drv_reinit_token() { softhsm_reinit; }
}

softhsm_reinit() {
    expect_success softhsm2-util --delete-token --token mod &&
        make_token mod
}

drv_softhsm_setup() {
    softhsm_common
    MOD_PATH=$SOFTHSM_MODULE
}

# Through p11-kit's proxy, the provider's default: SoftHSMv2 is registered
# with p11-kit by its package, and SOFTHSM2_CONF names the test's tokens.
drv_softhsm_proxy_setup() {
    softhsm_common
    MOD_PATH=""
}

# A network HSM's stand-in: SoftHSMv2 behind `p11-kit server`, reached
# through p11-kit-client.so. A token made anew is served after the server
# restarts (its SoftHSMv2 fixed its slot list when it started).
drv_softhsm_remote_setup() {
    # shellcheck source=../integration/p11kit_server.sh
    . "$HSM_SOURCE_ROOT/tests/integration/p11kit_server.sh"
    softhsm_common
    p11kit_server_available || return
    p11kit_server_start mod
    MOD_PATH=$P11KIT_CLIENT
    drv_reinit_token() {
        softhsm_reinit && p11kit_server_start mod
    }
}

# ------------------------------------------------------------ NSS softoken

NSS_MODULE=/usr/lib/x86_64-linux-gnu/libsoftokn3.so

nss_make_db() {
    rm -rf "$TMP/nssdb"
    mkdir -p "$TMP/nssdb"
    printf '%s\n' "$USER_PIN" >"$TMP/nss.pin"
    expect_success certutil -N -d "sql:$TMP/nssdb" -f "$TMP/nss.pin"
}

# Named directly, with its C_Initialize arguments in
# pkcs11-module-init-args (p11-kit would ignore a user module file as root).
drv_nss_setup() {
    if [ ! -e "$NSS_MODULE" ] || ! command -v certutil >/dev/null; then
        fail "NSS softoken or certutil is not installed (libnss3, libnss3-tools)"
        return
    fi
    TOKEN="NSS Certificate DB"
    TOKEN_URI="NSS%20Certificate%20DB"
    MOD_PATH=$NSS_MODULE
    TOOL_MODULE=$NSS_MODULE
    KEY_TYPES="ec rsa"
    NSS_INIT_ARGS="configdir='sql:$TMP/nssdb' certPrefix='' keyPrefix='' secmod='secmod.db' flags="
    MOD_OPTS=("pkcs11-module-init-args=$NSS_INIT_ARGS")
    export HSM_P11_INIT_ARGS=$NSS_INIT_ARGS
    nss_make_db
    drv_reinit_token() { nss_make_db; }
}

# ------------------------------------------------------------ tpm2-pkcs11

# swtpm on loopback (the network namespace is the scenario's own), with
# tpm2-abrmd in front of it on a private D-Bus session bus: swtpm alone runs
# out of object contexts in tpm2_ptool addtoken.
ptool() {
    env PYTHONPATH="$TPM2_DIR/usr/lib/python3/dist-packages" timeout -k 5 "$CMD_TIMEOUT" \
        /usr/bin/python3 "$TPM2_DIR/usr/bin/tpm2_ptool" "$@"
}

tpm2_addtoken() {
    expect_success ptool addtoken --pid=1 --label=tpm --sopin="$SO_PIN" --userpin="$USER_PIN" \
        --path "$TPM2_PKCS11_STORE"
}

drv_tpm2_setup() {
    local so
    TPM2_DIR=${HSM_TPM2_PKCS11_DIR:-/opt/hsm-tests/tpm2-pkcs11}
    # (Debian 12 puts the library in usr/lib/<triplet>, 13 in its pkcs11/)
    so=$(ls "$TPM2_DIR"/usr/lib/*/libtpm2_pkcs11.so.1.* \
        "$TPM2_DIR"/usr/lib/*/pkcs11/libtpm2_pkcs11.so.1.* 2>/dev/null | head -1)
    if [ -z "$so" ] || ! command -v swtpm >/dev/null || ! command -v tpm2-abrmd >/dev/null; then
        fail "tpm2-pkcs11 (extracted in HSM_TPM2_PKCS11_DIR=${TPM2_DIR:-unset}), swtpm or tpm2-abrmd is missing: scripts/install-deps.sh"
        return
    fi
    TOKEN=tpm
    TOKEN_URI=tpm
    MOD_PATH=$so
    TOOL_MODULE=$so
    KEY_TYPES="ec rsa"
    CANNOT="pss-max rsa-keygen-sign-only create-pubkey"
    WHY[pss-max]="tpm2-pkcs11 accepts RSA-PSS with a digest-length salt only (the TPM's rule)"
    WHY[rsa-keygen-sign-only]="tpm2-pkcs11 fails to make an RSA key that may only sign (\"User specified and TPM specified attr mismatch\")"
    WHY[create-pubkey]="tpm2-pkcs11 does not import public key objects"
    export HOME="$TMP" # tpm2-pkcs11 falls back to ~/.tpm2_pkcs11
    export TPM2_PKCS11_STORE="$TMP/tpm2store" DBUS_SESSION_BUS_ADDRESS="unix:path=$TMP/dbus.sock"
    export TPM2_PKCS11_TCTI=tabrmd:bus_type=session TPM2TOOLS_TCTI=tabrmd:bus_type=session
    mkdir -p "$TMP/tpmstate" "$TPM2_PKCS11_STORE"
    bg swtpm swtpm socket --tpm2 --server type=tcp,port=2321,bindaddr=127.0.0.1 \
        --ctrl type=tcp,port=2322,bindaddr=127.0.0.1 --tpmstate dir="$TMP/tpmstate" \
        --flags not-need-init,startup-clear
    bg dbus dbus-daemon --session --address="$DBUS_SESSION_BUS_ADDRESS" --nofork
    wait_for "the D-Bus session bus" test -S "$TMP/dbus.sock" || return
    bg abrmd tpm2-abrmd --session --allow-root --flush-all --tcti=swtpm:host=127.0.0.1,port=2321
    wait_for "tpm2-abrmd" tpm2_getcap properties-fixed || return
    expect_success ptool init --path "$TPM2_PKCS11_STORE" && tpm2_addtoken
    drv_reinit_token() {
        expect_success ptool rmtoken --label=tpm --path "$TPM2_PKCS11_STORE" && tpm2_addtoken
    }
}

# ----------------------------------------------------- openCryptoki soft token

OCK_MODULE=/usr/lib/x86_64-linux-gnu/pkcs11/libopencryptoki.so
OCK_SO_PIN=87654321

# openCryptoki's paths are fixed: /etc/opencryptoki, /var/lib/opencryptoki,
# /var/log/opencryptoki, /run (pkcsslotd's socket and pid, /run/lock) and
# /dev/shm. In the scenario's mount namespace each is a mount of its own,
# so the machine's are never read or changed. openCryptoki 3.23 (Debian 13;
# 3.8 on Debian 12) also needs its policy file strength.conf (root:pkcs11,
# 0640), and runs pkcsslotd as the user pkcsslotd with its socket in
# /run/opencryptoki.
drv_opencryptoki_setup() {
    local d="$TMP/ock"
    if [ ! -e "$OCK_MODULE" ] || ! command -v pkcsslotd >/dev/null; then
        fail "openCryptoki is not installed (opencryptoki)"
        return
    fi
    TOKEN=ock
    TOKEN_URI=ock
    MOD_PATH=$OCK_MODULE
    TOOL_MODULE=$OCK_MODULE
    KEY_TYPES="rsa"
    CANNOT="ec-keygen reinit-with-sessions"
    WHY[ec-keygen]="Debian 12's openCryptoki soft token is built without EC key generation"
    WHY[reinit-with-sessions]="openCryptoki refuses C_InitToken while a process has sessions on the token (CKR_SESSION_EXISTS)"
    mkdir -p "$d/etc" "$d/lib/swtok/TOK_OBJ" "$d/log"
    printf 'version opencryptoki-3.1\nslot 3\n{\nstdll = libpkcs11_sw.so\n}\n' \
        >"$d/etc/opencryptoki.conf"
    [ ! -e /etc/opencryptoki/strength.conf ] || cp /etc/opencryptoki/strength.conf "$d/etc/"
    mount -t tmpfs tmpfs /run && mkdir -p /run/lock/opencryptoki/swtok &&
        mount -t tmpfs tmpfs /dev/shm && mkdir -p /var/log/opencryptoki &&
        mount --bind "$d/etc" /etc/opencryptoki && mount --bind "$d/lib" /var/lib/opencryptoki &&
        mount --bind "$d/log" /var/log/opencryptoki || {
        fail "openCryptoki's private mounts"
        return
    }
    chgrp -R pkcs11 "$d" /run/lock/opencryptoki && chmod -R g+rwx "$d" /run/lock/opencryptoki
    [ ! -e "$d/etc/strength.conf" ] || chmod 0640 "$d/etc/strength.conf"
    if getent passwd pkcsslotd >/dev/null; then
        mkdir -p /run/opencryptoki && chown pkcsslotd:pkcs11 /run/opencryptoki &&
            chmod 0710 /run/opencryptoki
    fi
    # openCryptoki 3.23 loads OpenSSL's legacy provider in C_Initialize, from
    # OPENSSL_MODULES when it is set, which the tests point at the build:
    # the scenario's own directory holds hsm.so and OpenSSL's modules.
    local ossl_modules
    ossl_modules=$(openssl version -m | sed -n 's/^MODULESDIR: "\(.*\)"$/\1/p')
    mkdir -p "$TMP/ossl-modules" &&
        ln -sf "$HSM_PROVIDER_DIR/hsm.so" "$ossl_modules"/*.so "$TMP/ossl-modules/" &&
        HSM_PROVIDER_DIR=$TMP/ossl-modules
    bg pkcsslotd pkcsslotd -f
    wait_for "pkcsslotd" \
        bash -c 'test -S /run/pkcsslotd.socket || test -S /run/opencryptoki/pkcsslotd.socket' ||
        return
    ock_init_token
    # openCryptoki 3.8's soft token (Debian 12) cannot make EC keys, 3.23's
    # (Debian 13) can: the module itself is asked, with a key pair made and
    # removed again.
    if p11tool keygen ec fe ec-probe >/dev/null 2>&1; then
        p11tool delete fe >/dev/null 2>&1
        CANNOT=${CANNOT/ec-keygen/}
    fi
    drv_reinit_token() { ock_init_token; }
}

# The token (re-)initialised with pkcsconf, which reads the label on stdin;
# the first SO PIN is the package's default, which must be changed before
# the user PIN can be set.
ock_init_token() {
    printf 'ock\n' >"$TMP/ock.label"
    if pkcsconf -I -c 3 -S "$OCK_SO_PIN" <"$TMP/ock.label" >"$TMP/log/ock-init.out" 2>&1; then
        pass "pkcsconf -I: token ock initialised"
    else
        fail "pkcsconf -I: token ock initialised"
        sed 's/^/  | /' "$TMP/log/ock-init.out"
        return
    fi
    if [ "$OCK_SO_PIN" != "$SO_PIN" ]; then
        expect_success pkcsconf -P -c 3 -S "$OCK_SO_PIN" -n "$SO_PIN" || return
        OCK_SO_PIN=$SO_PIN
    fi
    expect_success pkcsconf -u -c 3 -S "$SO_PIN" -n "$USER_PIN"
}
