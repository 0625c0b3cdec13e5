# shellcheck shell=bash
# Apache httpd (Debian's apache2 with mod_ssl) serving HTTPS with a token
# key through the provider, for the server scenarios; sourced, never run.
# Builds on tests/integration/lib.sh (the temporary SoftHSMv2 token, keys,
# plain_openssl, assertions, "N passed, M failed").
#
# One server at a time, all of it under $TMP/httpd: its own ServerRoot,
# PidFile, Mutex and runtime directories, error and access logs, a loopback
# port chosen free at start. It runs in the foreground of a session of its
# own (setsid apache2 -DFOREGROUND -k start -f CONF), so the test knows the
# master's id and its process group, and ends every process of it whatever
# happens (httpd_stop, and the exit trap).
#
# Set-up:
#   httpd_available            fails the scenario unless apache2, its
#                              modules and ab are installed
#   httpd_make_ca              a software CA (plain OpenSSL): HTTPD_CA,
#                              HTTPD_CA_KEY
#   httpd_issue_cert KEY-URI OUT.pem [SUBJECT]
#                              a leaf certificate for the token key (CSR
#                              through the provider, URI with its PIN),
#                              issued by the CA for IP:127.0.0.1
#   httpd_cert_to_token TOKEN ID LABEL CERT.pem
#                              writes the certificate on the token, for
#                              SSLCertificateFile "pkcs11:...;type=cert"
#   httpd_replace_key TOKEN ID LABEL KEYTYPE PUB.pem
#                              deletes the key pair under ID and makes a
#                              new one with the same id and label (the key
#                              swap an operator, or a mistake, makes under
#                              a running server); PUB gets its public key
#   httpd_replace_cert_on_token TOKEN ID LABEL CERT.pem
#                              the certificate under ID replaced by CERT
#   httpd_spki_sha256 PUB.pem  the SHA-256 of the public key's DER
#                              SubjectPublicKeyInfo, as the provider's log
#                              writes fingerprints (plain OpenSSL)
#   httpd_pin_helper PINFILE   writes HTTPD_PIN_HELPER, a program for
#                              `SSLPassPhraseDialog exec:` that prints the
#                              PIN; each call appends a line to
#                              HTTPD_PIN_ASKED (httpd_pin_asks counts them)
#   httpd_debug_log [LEVEL]    the provider's debug log for the server's
#                              processes (HSM_DEBUG_LOG=HTTPD_DEBUG_LOG,
#                              writable by the children; each line names its
#                              process); httpd_debug_count ERE counts lines,
#                              e.g. 'C_Initialize' for (re-)initialisations
#   httpd_two_keys TOKEN       a P-256 key (id 01, label web-ec) and an
#                              RSA-2048 key (id 02, web-rsa) on TOKEN, their
#                              public keys ($TMP/ec.pem, rsa.pem) and
#                              certificates from the CA (HTTPD_EC_CERT,
#                              HTTPD_RSA_CERT); HTTPD_TWO_KEYS holds the
#                              httpd_config settings that serve both from
#                              the token (the client's signature algorithms
#                              pick one: HTTPD_EC_TLS / HTTPD_RSA_TLS for
#                              s_client, HTTPD_EC_AB / HTTPD_RSA_AB for ab)
#   httpd_remote_token TOKEN [KEY=VALUE...]
#                              the token behind `p11-kit server`
#                              (tests/integration/p11kit_server.sh; a
#                              network HSM's stand-in), its socket open to
#                              the children's user; HTTPD_REMOTE_CNF
#                              activates the provider on p11-kit-client.so
#                              with those options (default: the PIN,
#                              pkcs11-module-token-pin). Each connection
#                              is a new instance of the module behind the
#                              server: every child must log in itself.
#   HTTPD_LOGLEVEL=LEVELS      the LogLevel line ("notice"; "notice ssl:info"
#                              logs every connection and handshake error)
#   HTTPD_ENV=(VAR=VALUE ...)  more environment for the server (a shim's
#                              control file, P11_KIT_SERVER_ADDRESS, ...)
#   HTTPD_GRANT_TOKEN_ACCESS=0 httpd_start leaves the token's files as
#                              they are (a scenario about a token the
#                              children cannot read)
#
# The server:
#   httpd_config KEY=VALUE ... writes the configuration; keys:
#       cnf=FILE        the openssl.cnf that activates the provider
#                       (OPENSSL_CONF; required; write_provider_cnf makes
#                       one with an absolute `module =` path)
#       key=URI|PATH    SSLCertificateKeyFile (required)
#       cert=URI|PATH   SSLCertificateFile (required)
#       mpm=prefork|event            (default prefork)
#       dialog=exec:PATH|builtin     SSLPassPhraseDialog (default: none
#                       written, mod_ssl's builtin)
#       max_conn=N      MaxConnectionsPerChild (default 0: never), so that
#                       children are forked during a test
#       extra=LINE      one more configuration line (repeatable), e.g.
#                       SSLCipherSuite, SSLOpenSSLConfCmd
#   httpd_start                starts it and waits (HTTPD_START_TIMEOUT s,
#                              20 by default) until it answers on its port;
#                              a hang is reported with every thread's stack
#                              (gdb) and the server killed. Gives each child's
#                              user (www-data) access to the token first
#                              (httpd_grant_token_access).
#   httpd_start_refused DESC   starts it where it must refuse to start
#                              (asserts that the master ends by itself,
#                              before answering; the reason is in
#                              HTTPD_ERROR_LOG or $HTTPD_DIR/logs/server.out)
#   httpd_graceful             `apache2 -k graceful`, then waits until the
#                              new generation says it is running
#   httpd_graceful_ends DESC   `apache2 -k graceful` where the new
#                              generation must refuse to start: asserts that
#                              the master ends (within HTTPD_START_TIMEOUT)
#   httpd_stop                 `apache2 -k stop`, bounded, then kills what is
#                              left of its process group; fails on any
#                              sanitizer report in its logs
#   HTTPD_PORT, HTTPD_URL, HTTPD_PID (the master), HTTPD_ERROR_LOG,
#   HTTPD_ACCESS_LOG (one line per request: child pid, TLS protocol, status,
#   milliseconds since the epoch)
#
# Checks:
#   httpd_load N P             N requests over P parallel clients (ab, TLS
#                              1.2, a new connection and full handshake
#                              each); HTTPD_LOAD_DONE (requests served,
#                              from the access log), HTTPD_LOAD_FAILED;
#                              N=0 with `-t SECONDS`: a load bounded by
#                              time, N becomes ab's count of attempts
#   httpd_load_start N P [AB-OPTION...] / httpd_load_wait
#                              the same in the background, e.g. around a
#                              graceful restart; AB-OPTIONs are added to
#                              ab's (e.g. -Z CIPHER picks the key)
#   httpd_expect_no_failures DESC   the last load had 0 failures (asserts);
#                              a few connections httpd reset before their
#                              handshake began are shown, not failures
#                              (see HTTPD_LOAD_RESETS_ALLOWED)
#   httpd_served_key_is DESC PUB.pem [S_CLIENT-OPTION...]
#                              plain `openssl s_client` (TLS 1.3) verifies
#                              the chain against HTTPD_CA for 127.0.0.1, and
#                              the certificate it was served carries PUB
#                              (asserts); options pick the key, e.g.
#                              "${HTTPD_RSA_TLS[@]}"; with HTTPD_EXPECT_CERT
#                              set, the certificate must be that one too
#   httpd_children_served      how many distinct child processes served
#                              requests (access log)
#   httpd_pids_served_before EPOCH
#                              the children that served a request before
#   httpd_error_lines_of "PID..." ERE
#                              those processes' error-log lines matching ERE
#   httpd_verifier_start NAME CERT.pem [S_CLIENT-OPTION...] /
#   httpd_verifiers_stop       a loop of plain `openssl s_client`
#                              handshakes in the background (a new
#                              connection each, 10 s cap), one line per
#                              handshake in HTTPD_VERIFY_DIR/NAME:
#                              "EPOCH-SECONDS ok" (the chain verified
#                              against HTTPD_CA for 127.0.0.1 and the
#                              served certificate is CERT.pem, so the
#                              handshake's signature was checked with its
#                              key), "… fail" (no handshake), "… WRONG"
#                              (a verified handshake with another
#                              certificate)
#   httpd_verified NAME KIND [FROM [TO]]
#                              how many lines of KIND (ok, fail, WRONG)
#                              NAME wrote between two epoch times
#   httpd_first_ok NAME FROM   the epoch time of NAME's first "ok" at or
#                              after FROM (empty if none)
#   httpd_master_alive_start / httpd_master_alive_stop
#                              samples the master every 0.1 s; stop fails
#                              the scenario if it was ever gone
#   httpd_stamp                the time now as the debug log writes it
#   httpd_debug_per_process ERE FROM TO
#                              debug-log lines matching ERE stamped in
#                              [FROM, TO) (httpd_stamp times): prints
#                              "MAX TOTAL PROCESSES" (MAX: the most in any
#                              one process)
#   httpd_pin_asks             how many times the PIN helper ran
#   httpd_story DESC PUB.pem KEY=VALUE...
#                              the standard run, for each MPM in HTTPD_MPMS
#                              ("prefork event"): start, served key, load
#                              with a graceful restart in the middle, more
#                              load, 0 failures, children forked, stop.
#                              HTTPD_REQUESTS (300) and HTTPD_CLIENTS (8)
#                              size the load; HTTPD_MAX_CONN (20) is the
#                              MaxConnectionsPerChild.
#
# Children run as www-data and initialise the module again there: the token
# directory, the SoftHSMv2 configuration, a PIN file the provider reads per
# process and the debug log must be reachable by that user, and $TMP's
# parents traversable (it is made 0711 here).

# shellcheck source=../integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"

HTTPD_BIN=/usr/sbin/apache2
HTTPD_MODULES=/usr/lib/apache2/modules
HTTPD_USER=www-data
HTTPD_START_TIMEOUT=${HTTPD_START_TIMEOUT:-20}
HTTPD_MPMS=${HTTPD_MPMS:-prefork event}
HTTPD_REQUESTS=${HTTPD_REQUESTS:-300}
HTTPD_CLIENTS=${HTTPD_CLIENTS:-8}
HTTPD_MAX_CONN=${HTTPD_MAX_CONN:-20}
HTTPD_ROOT="$TMP/httpd"
HTTPD_SEQ=0
HTTPD_PID=""
HTTPD_PORT=""
HTTPD_URL=""
HTTPD_CONF=""
HTTPD_DIR=""
HTTPD_ERROR_LOG=""
HTTPD_ACCESS_LOG=""
HTTPD_CNF=""
HTTPD_ENV=()
HTTPD_LOAD_PID=""
HTTPD_LOAD_N=0
HTTPD_LOAD_DONE=0
HTTPD_LOAD_FAILED=0
HTTPD_LOAD_RESETS=0
HTTPD_LOAD_TLS_FAILED=0
HTTPD_PIN_HELPER="$HTTPD_ROOT/pin_helper.sh"
HTTPD_PIN_ASKED="$HTTPD_ROOT/pin-asked"
HTTPD_DEBUG_LOG=""
HTTPD_GRANT_TOKEN_ACCESS=${HTTPD_GRANT_TOKEN_ACCESS:-1}
HTTPD_VERIFY_DIR="$HTTPD_ROOT/verify"
HTTPD_VERIFIER_PIDS=()
HTTPD_ALIVE_PID=""
mkdir -p "$HTTPD_ROOT" "$HTTPD_VERIFY_DIR"
# The children (www-data) must reach the token directory under $TMP.
chmod 0711 "$TMP"

# ------------------------------------------------------------------ set-up

httpd_available() {
    local p missing=0
    for p in "$HTTPD_BIN" "$HTTPD_MODULES/mod_ssl.so" "$HTTPD_MODULES/mod_mpm_prefork.so" \
        "$HTTPD_MODULES/mod_mpm_event.so" /usr/bin/ab; do
        if [ ! -e "$p" ]; then
            fail "$p is not installed (packages apache2, apache2-utils)"
            missing=1
        fi
    done
    if ! id "$HTTPD_USER" >/dev/null 2>&1; then
        fail "the user $HTTPD_USER does not exist"
        missing=1
    fi
    [ "$missing" = 0 ] || finish
}

httpd_make_ca() {
    HTTPD_CA="$HTTPD_ROOT/ca.pem"
    HTTPD_CA_KEY="$HTTPD_ROOT/ca.key"
    expect_success plain_openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$HTTPD_CA_KEY" -subj "/CN=hsm test CA" -days 2 -out "$HTTPD_CA"
}

httpd_issue_cert() {
    local uri=$1 out=$2 subject=${3:-/CN=127.0.0.1}
    printf '%s\n' "subjectAltName = IP:127.0.0.1" "extendedKeyUsage = serverAuth" \
        >"$HTTPD_ROOT/leaf.ext"
    expect_success hsm_openssl req -new -key "$uri" -subj "$subject" -out "$out.csr" &&
        expect_success plain_openssl x509 -req -in "$out.csr" -CA "$HTTPD_CA" \
            -CAkey "$HTTPD_CA_KEY" -CAcreateserial -days 2 -extfile "$HTTPD_ROOT/leaf.ext" \
            -out "$out"
}

# httpd_web_ec_leaf : the stage most stories share: token "web" with a
# P-256 key (id 01, label web-ec; its public key in ec.pem), the test CA,
# and a leaf certificate for the key in $HTTPD_ROOT/leaf.pem.
httpd_web_ec_leaf() {
    make_token web
    make_key web EC:prime256v1 01 web-ec
    save_token_pubkey web 01 ec.pem
    require
    httpd_make_ca
    httpd_issue_cert "$(key_uri web web-ec)" "$HTTPD_ROOT/leaf.pem"
}

httpd_cert_to_token() {
    local token=$1 id=$2 label=$3 cert=$4
    local -a sel
    mapfile -t sel < <(_token_args "$token")
    plain_openssl x509 -in "$cert" -outform DER -out "$cert.der" &&
        expect_success pkcs11-tool --module "$SOFTHSM_MODULE" "${sel[@]}" --login \
            --pin "$USER_PIN" --write-object "$cert.der" --type cert --id "$id" --label "$label"
}

_httpd_p11() {
    local token=$1
    local -a sel
    shift
    mapfile -t sel < <(_token_args "$token")
    pkcs11-tool --module "$SOFTHSM_MODULE" "${sel[@]}" --login --pin "$USER_PIN" "$@"
}

httpd_replace_key() {
    local token=$1 id=$2 label=$3 type=$4 pub=$5
    expect_success _httpd_p11 "$token" --delete-object --type privkey --id "$id" &&
        expect_success _httpd_p11 "$token" --delete-object --type pubkey --id "$id" &&
        make_key "$token" "$type" "$id" "$label" &&
        save_token_pubkey "$token" "$id" "$pub"
}

httpd_replace_cert_on_token() {
    local token=$1 id=$2 label=$3 cert=$4
    expect_success _httpd_p11 "$token" --delete-object --type cert --id "$id" &&
        httpd_cert_to_token "$token" "$id" "$label" "$cert"
}

httpd_spki_sha256() {
    plain_openssl pkey -pubin -in "$1" -outform DER | plain_openssl dgst -sha256 -r |
        awk '{ print $1 }'
}

# mod_ssl runs the helper as `PROGRAM servername:port keytype` and reads the
# passphrase from its standard output.
httpd_pin_helper() {
    local pinfile=$1
    : >"$HTTPD_PIN_ASKED"
    cat >"$HTTPD_PIN_HELPER" <<EOF
#!/bin/sh
echo "asked for \$*" >>"$HTTPD_PIN_ASKED"
exec cat "$pinfile"
EOF
    chmod 0700 "$HTTPD_PIN_HELPER"
}

httpd_pin_asks() {
    _httpd_count . "$HTTPD_PIN_ASKED"
}

# shellcheck disable=SC2034 # used by the scenarios
HTTPD_EC_TLS=(-tls1_3 -sigalgs ecdsa_secp256r1_sha256)
# shellcheck disable=SC2034
HTTPD_RSA_TLS=(-tls1_3 -sigalgs rsa_pss_rsae_sha256)
# shellcheck disable=SC2034
HTTPD_EC_AB=(-Z ECDHE-ECDSA-AES128-GCM-SHA256)
# shellcheck disable=SC2034
HTTPD_RSA_AB=(-Z ECDHE-RSA-AES128-GCM-SHA256)

httpd_two_keys() {
    local token=$1
    make_key "$token" EC:prime256v1 01 web-ec
    make_key "$token" rsa:2048 02 web-rsa
    save_token_pubkey "$token" 01 "$TMP/ec.pem"
    save_token_pubkey "$token" 02 "$TMP/rsa.pem"
    HTTPD_EC_CERT="$HTTPD_ROOT/ec.crt"
    HTTPD_RSA_CERT="$HTTPD_ROOT/rsa.crt"
    httpd_issue_cert "$(key_uri "$token" web-ec)" "$HTTPD_EC_CERT"
    httpd_issue_cert "$(key_uri "$token" web-rsa)" "$HTTPD_RSA_CERT"
    # shellcheck disable=SC2034
    HTTPD_TWO_KEYS=(key="pkcs11:token=$token;id=%01;type=private" cert="$HTTPD_EC_CERT"
        extra="SSLCertificateFile \"$HTTPD_RSA_CERT\""
        extra="SSLCertificateKeyFile \"pkcs11:token=$token;id=%02;type=private\"")
}

httpd_remote_token() {
    local token=$1
    shift
    [ $# -gt 0 ] || set -- "pkcs11-module-token-pin=$USER_PIN"
    # shellcheck source=../integration/p11kit_server.sh
    . "$HSM_SOURCE_ROOT/tests/integration/p11kit_server.sh"
    p11kit_server_available || finish
    P11KIT_SOCK_MODE=0666
    p11kit_server_start "$token"
    HTTPD_ENV+=("P11_KIT_SERVER_ADDRESS=$P11_KIT_SERVER_ADDRESS")
    HTTPD_REMOTE_CNF="$HTTPD_ROOT/remote.cnf"
    write_provider_cnf "$HTTPD_REMOTE_CNF" "pkcs11-module-path=$P11KIT_CLIENT" "$@"
}

# _httpd_count ERE FILE : lines of FILE that match (0 if it is missing).
_httpd_count() {
    local n
    n=$(grep -cE -- "$1" "$2" 2>/dev/null)
    echo "${n:-0}"
}

httpd_debug_log() {
    HTTPD_DEBUG_LOG="$HTTPD_ROOT/hsm-debug.log"
    : >"$HTTPD_DEBUG_LOG"
    chown "$HTTPD_USER" "$HTTPD_DEBUG_LOG"
    HTTPD_ENV+=("HSM_DEBUG_LOG=$HTTPD_DEBUG_LOG" "HSM_DEBUG_LEVEL=${1:-1}")
}

httpd_debug_count() {
    _httpd_count "$1" "$HTTPD_DEBUG_LOG"
}

# httpd_grant_token_access : the children's user may read and lock the
# token's files (SoftHSMv2 makes them 0600 for whoever created them).
httpd_grant_token_access() {
    chown -R "$HTTPD_USER:" "$TMP/tokens"
    chmod 0644 "$SOFTHSM2_CONF"
}

# ------------------------------------------------------------------ server

# _httpd_free_port : a loopback port nothing answers on now (a race with
# other tests remains; httpd_start tries another port if the bind fails).
# (below Linux's ephemeral range, 32768-60999, where another test's client
# connection could hold it)
_httpd_free_port() {
    local p
    for _ in $(seq 50); do
        p=$((20000 + RANDOM % 12000))
        if ! timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$p" 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

httpd_config() {
    local kv cnf="" key="" cert="" mpm=prefork dialog="" max_conn=0
    local -a extra=()
    for kv in "$@"; do
        case "$kv" in
        cnf=*) cnf=${kv#cnf=} ;;
        key=*) key=${kv#key=} ;;
        cert=*) cert=${kv#cert=} ;;
        mpm=*) mpm=${kv#mpm=} ;;
        dialog=*) dialog=${kv#dialog=} ;;
        max_conn=*) max_conn=${kv#max_conn=} ;;
        extra=*) extra+=("${kv#extra=}") ;;
        *) fail "httpd_config: unknown setting $kv"; return 1 ;;
        esac
    done
    if [ -z "$cnf" ] || [ -z "$key" ] || [ -z "$cert" ]; then
        fail "httpd_config: cnf=, key= and cert= are required"
        return 1
    fi
    HTTPD_SEQ=$((HTTPD_SEQ + 1))
    HTTPD_DIR="$HTTPD_ROOT/server$HTTPD_SEQ"
    mkdir -p "$HTTPD_DIR/logs" "$HTTPD_DIR/run" "$HTTPD_DIR/htdocs"
    printf 'served by a token key\n' >"$HTTPD_DIR/htdocs/index.html"
    HTTPD_CONF="$HTTPD_DIR/httpd.conf"
    HTTPD_ERROR_LOG="$HTTPD_DIR/logs/error.log"
    HTTPD_ACCESS_LOG="$HTTPD_DIR/logs/access.log"
    HTTPD_CNF=$cnf
    HTTPD_MPM=$mpm
    {
        echo "ServerRoot \"$HTTPD_DIR\""
        echo "ServerName 127.0.0.1"
        echo "PidFile \"$HTTPD_DIR/run/httpd.pid\""
        echo "DefaultRuntimeDir \"$HTTPD_DIR/run\""
        echo "Mutex file:$HTTPD_DIR/run default"
        echo "ErrorLog \"$HTTPD_ERROR_LOG\""
        echo "LogLevel ${HTTPD_LOGLEVEL:-notice}"
        echo "LoadModule mpm_${mpm}_module $HTTPD_MODULES/mod_mpm_$mpm.so"
        echo "LoadModule authz_core_module $HTTPD_MODULES/mod_authz_core.so"
        echo "LoadModule socache_shmcb_module $HTTPD_MODULES/mod_socache_shmcb.so"
        echo "LoadModule ssl_module $HTTPD_MODULES/mod_ssl.so"
        echo "User $HTTPD_USER"
        echo "Group $HTTPD_USER"
        echo "Listen 127.0.0.1:@PORT@"
        if [ "$mpm" = event ]; then
            echo "StartServers 2"
            echo "ServerLimit 4"
            echo "ThreadsPerChild 4"
            echo "MaxRequestWorkers 16"
            echo "MinSpareThreads 4"
            echo "MaxSpareThreads 16"
        else
            echo "StartServers 2"
            echo "MinSpareServers 2"
            echo "MaxSpareServers 8"
            echo "MaxRequestWorkers 16"
        fi
        echo "MaxConnectionsPerChild $max_conn"
        echo "LogFormat \"%P %{SSL_PROTOCOL}x %s %{msec}t\" served"
        echo "CustomLog \"$HTTPD_ACCESS_LOG\" served"
        echo "DocumentRoot \"$HTTPD_DIR/htdocs\""
        echo "<Directory />"
        echo "    Require all granted"
        echo "</Directory>"
        echo "SSLEngine on"
        echo "SSLSessionCache none"
        [ -z "$dialog" ] || echo "SSLPassPhraseDialog $dialog"
        echo "SSLCertificateFile \"$cert\""
        echo "SSLCertificateKeyFile \"$key\""
        for kv in "${extra[@]}"; do
            echo "$kv"
        done
    } >"$HTTPD_CONF.in"
}

# _httpd_env : the server's environment (an array: env VAR=VALUE ...).
_httpd_env() {
    HTTPD_RUN_ENV=(env)
    # shellcheck disable=SC2207
    HTTPD_RUN_ENV+=($(_preload_env))
    HTTPD_RUN_ENV+=("OPENSSL_CONF=$HTTPD_CNF" "OPENSSL_MODULES=$HSM_PROVIDER_DIR"
        "SOFTHSM2_CONF=$SOFTHSM2_CONF" "${HTTPD_ENV[@]}")
}

# _httpd_ctl ARGS... : apache2 -k ... -f CONF, bounded, in the server's
# environment (it reads the configuration, so it loads mod_ssl too).
_httpd_ctl() {
    _httpd_env
    timeout -k 5 "$CMD_TIMEOUT" "${HTTPD_RUN_ENV[@]}" "$HTTPD_BIN" "$@" -f "$HTTPD_CONF" \
        >>"$HTTPD_DIR/logs/ctl.out" 2>&1
}

# _httpd_running_count : how many generations said "resuming normal
# operations" (each start and each graceful restart).
_httpd_running_count() {
    _httpd_count 'resuming normal operations' "$HTTPD_ERROR_LOG"
}

_httpd_answers() {
    timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$HTTPD_PORT" 2>/dev/null
}

# _httpd_wait_running COUNT : until COUNT generations are running and the
# port answers, the master dies, or HTTPD_START_TIMEOUT passes. Returns 0
# (running), 1 (the master ended), 2 (timeout).
_httpd_wait_running() {
    local want=$1 tenths=$((HTTPD_START_TIMEOUT * 10))
    for _ in $(seq "$tenths"); do
        kill -0 "$HTTPD_PID" 2>/dev/null || return 1
        if [ "$(_httpd_running_count)" -ge "$want" ] && _httpd_answers; then
            return 0
        fi
        sleep 0.1
    done
    return 2
}

_httpd_show_logs() {
    echo "  --- $HTTPD_ERROR_LOG (last lines, engine notices left out):"
    grep -vE 'engine|DSO support|compiled against a newer library' "$HTTPD_ERROR_LOG" 2>/dev/null |
        tail -15 | cut -c1-400 | sed 's/^/  | /'
    echo "  --- server stdout/stderr:"
    tail -c 2000 "$HTTPD_DIR/logs/server.out" 2>/dev/null | sed 's/^/  | /'
}

# _httpd_kill_all : every process of the server's session, by its group id,
# and what is left below the master.
_httpd_kill_all() {
    [ -n "$HTTPD_PID" ] || return 0
    # shellcheck disable=SC2046
    kill -KILL -- -"$HTTPD_PID" $(_descendants "$HTTPD_PID") "$HTTPD_PID" 2>/dev/null
    wait "$HTTPD_PID" 2>/dev/null
    HTTPD_PID=""
}

# _httpd_hung WHAT : a hang: the stacks of the master and its children,
# then everything killed.
_httpd_hung() {
    fail "$1: no answer within ${HTTPD_START_TIMEOUT}s (hang)"
    _httpd_show_logs
    # shellcheck disable=SC2046
    show_stacks "$HTTPD_PID" $(_descendants "$HTTPD_PID" | head -3)
    _httpd_kill_all
}

httpd_start() {
    local attempt rc
    [ "$HTTPD_GRANT_TOKEN_ACCESS" = 0 ] || httpd_grant_token_access
    for attempt in 1 2 3; do
        HTTPD_PORT=$(_httpd_free_port) || { fail "no free loopback port"; return 1; }
        HTTPD_URL="https://127.0.0.1:$HTTPD_PORT/index.html"
        sed "s/@PORT@/$HTTPD_PORT/" "$HTTPD_CONF.in" >"$HTTPD_CONF"
        : >"$HTTPD_ERROR_LOG"
        _httpd_env
        # setsid: a session (and process group) of its own, whose id is the
        # master's; -DFOREGROUND: the master is this child, not a daemon.
        setsid "${HTTPD_RUN_ENV[@]}" "$HTTPD_BIN" -DFOREGROUND -k start -f "$HTTPD_CONF" \
            >"$HTTPD_DIR/logs/server.out" 2>&1 </dev/null &
        HTTPD_PID=$!
        _httpd_wait_running 1
        rc=$?
        if [ "$rc" = 0 ]; then
            pass "httpd ($HTTPD_MPM) started on 127.0.0.1:$HTTPD_PORT (master $HTTPD_PID)"
            return 0
        fi
        if [ "$rc" = 2 ]; then
            _httpd_hung "httpd ($HTTPD_MPM) start"
            return 1
        fi
        wait "$HTTPD_PID" 2>/dev/null
        HTTPD_PID=""
        grep -q 'Address already in use' "$HTTPD_ERROR_LOG" "$HTTPD_DIR/logs/server.out" \
            2>/dev/null || break
        echo "port $HTTPD_PORT was taken meanwhile (attempt $attempt), trying another"
    done
    fail "httpd ($HTTPD_MPM) did not start"
    _httpd_show_logs
    return 1
}

httpd_start_refused() {
    local desc=$1
    [ "$HTTPD_GRANT_TOKEN_ACCESS" = 0 ] || httpd_grant_token_access
    HTTPD_PORT=$(_httpd_free_port) || { fail "no free loopback port"; return 1; }
    HTTPD_URL="https://127.0.0.1:$HTTPD_PORT/index.html"
    sed "s/@PORT@/$HTTPD_PORT/" "$HTTPD_CONF.in" >"$HTTPD_CONF"
    : >"$HTTPD_ERROR_LOG"
    _httpd_env
    setsid "${HTTPD_RUN_ENV[@]}" "$HTTPD_BIN" -DFOREGROUND -k start -f "$HTTPD_CONF" \
        >"$HTTPD_DIR/logs/server.out" 2>&1 </dev/null &
    HTTPD_PID=$!
    case "$(_httpd_wait_running 1; echo $?)" in
    1) pass "$desc: httpd ($HTTPD_MPM) refused to start"
       wait "$HTTPD_PID" 2>/dev/null
       _httpd_kill_all ;;
    0) fail "$desc: httpd ($HTTPD_MPM) started"
       httpd_stop
       return 1 ;;
    *) _httpd_hung "httpd ($HTTPD_MPM) start"
       return 1 ;;
    esac
}

httpd_graceful() {
    local before
    [ -n "$HTTPD_PID" ] || { fail "graceful restart: no server running"; return 1; }
    before=$(_httpd_running_count)
    if ! _httpd_ctl -k graceful; then
        fail "apache2 -k graceful failed (exit status $?)"
        tail -5 "$HTTPD_DIR/logs/ctl.out" | sed 's/^/  | /'
        return 1
    fi
    case "$(_httpd_wait_running $((before + 1)); echo $?)" in
    0) pass "httpd ($HTTPD_MPM) restarted gracefully" ;;
    1) fail "httpd ($HTTPD_MPM) ended during the graceful restart"
       _httpd_show_logs
       HTTPD_PID=""
       return 1 ;;
    *) _httpd_hung "httpd ($HTTPD_MPM) graceful restart"
       return 1 ;;
    esac
}

httpd_graceful_ends() {
    local desc=$1
    [ -n "$HTTPD_PID" ] || { fail "$desc: no server running"; return 1; }
    _httpd_ctl -k graceful
    for _ in $(seq $((HTTPD_START_TIMEOUT * 10))); do
        kill -0 "$HTTPD_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$HTTPD_PID" 2>/dev/null; then
        fail "$desc: httpd ($HTTPD_MPM) still runs ${HTTPD_START_TIMEOUT} s after apache2 -k graceful"
        httpd_stop
        return 1
    fi
    wait "$HTTPD_PID" 2>/dev/null
    _httpd_kill_all
    pass "$desc: httpd ($HTTPD_MPM) ended after apache2 -k graceful"
}

httpd_stop() {
    local left
    [ -n "$HTTPD_PID" ] || return 0
    _httpd_ctl -k stop
    local i stuck=""
    for i in $(seq 100); do
        kill -0 "$HTTPD_PID" 2>/dev/null || break
        # httpd kills a child that ignores its stop after about 6 s: take
        # the stacks of any still running at 3 s, while they still show why.
        if [ "$i" = 30 ]; then
            stuck=$(_descendants "$HTTPD_PID" | head -3)
            [ -z "$stuck" ] || echo "  (children still running 3 s after the stop: $(echo $stuck))"
            # shellcheck disable=SC2086
            [ -z "$stuck" ] || show_stacks $stuck
        fi
        sleep 0.1
    done
    if kill -0 "$HTTPD_PID" 2>/dev/null; then
        fail "httpd ($HTTPD_MPM) did not stop within 10 s of apache2 -k stop"
        _httpd_show_logs
    else
        pass "httpd ($HTTPD_MPM) stopped"
    fi
    wait "$HTTPD_PID" 2>/dev/null
    left=$(pgrep -g "$HTTPD_PID" 2>/dev/null | tr '\n' ' ')
    if [ -n "$left" ]; then
        fail "httpd ($HTTPD_MPM): processes left after the stop: $left"
    fi
    _httpd_kill_all
    if grep -qE 'ERROR: (Address|Leak)Sanitizer|WARNING: ThreadSanitizer|runtime error:|SUMMARY: UndefinedBehaviorSanitizer' \
        "$HTTPD_ERROR_LOG" "$HTTPD_DIR/logs/server.out" 2>/dev/null; then
        fail "httpd ($HTTPD_MPM): sanitizer report in its logs"
        _httpd_show_logs
    fi
}

# ------------------------------------------------------------------ checks

httpd_load_start() {
    local n=$1 p=$2
    shift 2
    HTTPD_LOAD_N=$n
    HTTPD_LOAD_OUT="$HTTPD_DIR/logs/ab.$RANDOM.out"
    HTTPD_LOAD_MARK=$(_httpd_count . "$HTTPD_ACCESS_LOG")
    # -r: a failed receive is counted, not the end of the run; -s: a
    # request that gets no answer fails after 20 s.
    # N=0: bounded by ab's -t alone.
    [ "$n" = 0 ] || set -- -n "$n" "$@"
    timeout -k 5 120 ab -c "$p" -f TLS1.2 -r -s 20 "$@" "$HTTPD_URL" \
        >"$HTTPD_LOAD_OUT" 2>&1 &
    HTTPD_LOAD_PID=$!
}

httpd_load_wait() {
    local rc complete served
    wait "$HTTPD_LOAD_PID"
    rc=$?
    HTTPD_LOAD_PID=""
    # ab counts a request whose handshake failed as complete, and as failed
    # only when an earlier one succeeded (its length differs): if every
    # handshake fails it reports none. What was served is in the access log.
    complete=$(awk '/^Complete requests:/ { print $3 }' "$HTTPD_LOAD_OUT")
    served=$(tail -n "+$((HTTPD_LOAD_MARK + 1))" "$HTTPD_ACCESS_LOG" 2>/dev/null |
        awk '$3 == 200 { n++ } END { print n + 0 }')
    [ "$HTTPD_LOAD_N" != 0 ] || HTTPD_LOAD_N=${complete:-0} # a load bounded by time (-t)
    HTTPD_LOAD_DONE=$served
    HTTPD_LOAD_FAILED=$((HTTPD_LOAD_N - served))
    if [ "$rc" != 0 ] && [ "$HTTPD_LOAD_FAILED" = 0 ]; then
        HTTPD_LOAD_FAILED=$HTTPD_LOAD_N # ab itself gave up
    fi
    HTTPD_LOAD_RATE=$(awk '/^Requests per second:/ { print $4 }' "$HTTPD_LOAD_OUT")
    # ab prints SSL_get_error()'s code for each handshake it lost. 5
    # (SSL_ERROR_SYSCALL: OpenSSL 3 reports a plain end of stream as 1) is a
    # reset: the server closed the connection before it read the ClientHello,
    # so before any key was used. Every other code is a handshake that went
    # wrong (a failed signature makes mod_ssl send an alert: 1).
    HTTPD_LOAD_RESETS=$(grep -o 'SSL handshake failed (5)' "$HTTPD_LOAD_OUT" | wc -l)
    HTTPD_LOAD_TLS_FAILED=$(grep -o 'SSL handshake failed ([0-9]*)' "$HTTPD_LOAD_OUT" |
        grep -vc '(5)')
}

httpd_load() {
    httpd_load_start "$@"
    httpd_load_wait
}

# httpd's event MPM resets a connection now and then while it stops a
# process under load (a graceful restart, MaxConnectionsPerChild): it was
# accepted, its ClientHello never read. Measured without the provider (a key
# file, no provider configured, 10 graceful restarts under 1,500 requests):
# 0 to 4 resets a run. Such a reset happens before any key is used, so it is
# counted and shown, not a failure, within HTTPD_LOAD_RESETS_ALLOWED percent
# of the load (at least 2); a handshake that failed otherwise always is.
HTTPD_LOAD_RESETS_ALLOWED=${HTTPD_LOAD_RESETS_ALLOWED:-2}

httpd_expect_no_failures() {
    local allowed=$((HTTPD_LOAD_N * HTTPD_LOAD_RESETS_ALLOWED / 100))
    [ "$allowed" -ge 2 ] || allowed=2
    if [ "$HTTPD_LOAD_FAILED" = 0 ] && [ "$HTTPD_LOAD_DONE" = "$HTTPD_LOAD_N" ]; then
        pass "$1: $HTTPD_LOAD_DONE of $HTTPD_LOAD_N requests served, 0 failures (${HTTPD_LOAD_RATE:-?}/s)"
    elif [ "$HTTPD_LOAD_FAILED" -gt 0 ] && [ "$HTTPD_LOAD_TLS_FAILED" = 0 ] &&
        [ "$HTTPD_LOAD_FAILED" -le "$HTTPD_LOAD_RESETS" ] &&
        [ "$HTTPD_LOAD_RESETS" -le "$allowed" ]; then
        pass "$1: $HTTPD_LOAD_DONE of $HTTPD_LOAD_N requests served, 0 failed handshakes;" \
            "$HTTPD_LOAD_RESETS connection(s) reset by httpd before the handshake began" \
            "(${HTTPD_LOAD_RATE:-?}/s)"
    else
        fail "$1: $HTTPD_LOAD_FAILED of $HTTPD_LOAD_N requests failed"
        grep -E 'requests|Failed|Non-2xx|error|SSL' "$HTTPD_LOAD_OUT" | head -12 | sed 's/^/  | /'
        _httpd_show_logs
    fi
}

httpd_served_key_is() {
    local desc=$1 pub=$2 out="$HTTPD_DIR/logs/s_client.$RANDOM"
    shift 2
    if ! plain_openssl s_client -connect "127.0.0.1:$HTTPD_PORT" -CAfile "$HTTPD_CA" \
        -verify_return_error -verify_ip 127.0.0.1 -showcerts "$@" </dev/null >"$out" 2>&1; then
        fail "$desc: plain openssl s_client could not complete a verified handshake"
        tail -15 "$out" | sed 's/^/  | /'
        return 1
    fi
    pass "$desc: plain openssl s_client verified the server against the CA"
    sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/{p;/-----END/q}' "$out" \
        >"$out.cert.pem"
    plain_openssl x509 -in "$out.cert.pem" -noout -pubkey >"$out.pub.pem" 2>/dev/null
    same_pubkey "$desc: the served certificate carries the token's key" "$out.pub.pem" "$pub"
    [ -z "${HTTPD_EXPECT_CERT:-}" ] || check "$desc: the served certificate is $(_describe "$HTTPD_EXPECT_CERT")" \
        _httpd_same_cert "$out.cert.pem" "$HTTPD_EXPECT_CERT"
}

_httpd_same_cert() {
    cmp -s <(plain_openssl x509 -in "$1" -outform DER) <(plain_openssl x509 -in "$2" -outform DER)
}

httpd_children_served() {
    awk '{ print $1 }' "$HTTPD_ACCESS_LOG" 2>/dev/null | sort -u | grep -c .
}

# httpd_pids_served_before EPOCH : the children that served a request
# before then, one per line.
httpd_pids_served_before() {
    awk -v t="$1" '$3 == 200 && $4 + 0 < t * 1000 { print $1 }' "$HTTPD_ACCESS_LOG" | sort -u
}

# httpd_error_lines_of PIDS ERE : error-log lines of those processes that
# match ERE.
httpd_error_lines_of() {
    local pids=$1 ere=$2
    grep -E -- "$ere" "$HTTPD_ERROR_LOG" | awk -v pids=" $(tr '\n' ' ' <<<"$pids") " '
        match($0, /\[pid [0-9]+/) {
            p = substr($0, RSTART + 5, RLENGTH - 5)
            if (index(pids, " " p " ")) print
        }'
}

# The verifier's loop; runs in the background until STOP exists.
_httpd_verify_loop() {
    local out=$1 cert=$2 stop=$3 t tmp="$1.last"
    shift 3
    local want
    want=$(sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p' "$cert")
    while [ ! -e "$stop" ]; do
        t=$EPOCHREALTIME
        if env -u OPENSSL_CONF -u OPENSSL_MODULES -u LD_PRELOAD timeout -k 2 10 \
            "$OPENSSL_BIN" s_client -connect "127.0.0.1:$HTTPD_PORT" -CAfile "$HTTPD_CA" \
            -verify_return_error -verify_ip 127.0.0.1 "$@" </dev/null >"$tmp" 2>&1; then
            if [ "$(sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/{p;/-----END/q}' \
                "$tmp")" = "$want" ]; then
                echo "$t ok"
            else
                echo "$t WRONG"
                cp "$tmp" "$out.wrong.$t"
            fi
        else
            echo "$t fail"
        fi >>"$out"
    done
}

httpd_verifier_start() {
    local name=$1 cert=$2
    shift 2
    rm -f "$HTTPD_VERIFY_DIR/stop" "$HTTPD_VERIFY_DIR/$name"
    : >"$HTTPD_VERIFY_DIR/$name"
    _httpd_verify_loop "$HTTPD_VERIFY_DIR/$name" "$cert" "$HTTPD_VERIFY_DIR/stop" "$@" &
    HTTPD_VERIFIER_PIDS+=($!)
}

httpd_verifiers_stop() {
    local p
    touch "$HTTPD_VERIFY_DIR/stop"
    for p in "${HTTPD_VERIFIER_PIDS[@]}"; do
        # A handshake takes at most 10 s (its timeout).
        timeout 15 tail --pid="$p" -f /dev/null
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    HTTPD_VERIFIER_PIDS=()
}

httpd_verified() {
    local name=$1 kind=$2 from=${3:-0} to=${4:-99999999999}
    awk -v k="$kind" -v a="$from" -v b="$to" \
        '$2 == k && $1 + 0 >= a + 0 && $1 + 0 < b + 0 { n++ } END { print n + 0 }' \
        "$HTTPD_VERIFY_DIR/$name"
}

httpd_first_ok() {
    awk -v a="$2" '$2 == "ok" && $1 + 0 >= a + 0 { print $1; exit }' "$HTTPD_VERIFY_DIR/$1"
}

httpd_master_alive_start() {
    local pid=$HTTPD_PID gone="$HTTPD_DIR/run/master-gone"
    rm -f "$gone"
    (
        while kill -0 "$pid" 2>/dev/null; do
            sleep 0.1
        done
        echo "$EPOCHREALTIME" >"$gone"
    ) &
    HTTPD_ALIVE_PID=$!
}

httpd_master_alive_stop() {
    local gone="$HTTPD_DIR/run/master-gone"
    [ -z "$HTTPD_ALIVE_PID" ] || kill -KILL "$HTTPD_ALIVE_PID" 2>/dev/null
    wait "$HTTPD_ALIVE_PID" 2>/dev/null
    HTTPD_ALIVE_PID=""
    if [ -e "$gone" ]; then
        fail "httpd ($HTTPD_MPM): the master process ended during the run (at $(cat "$gone"))"
        _httpd_show_logs
    else
        pass "httpd ($HTTPD_MPM): the master process ran throughout"
    fi
}

httpd_stamp() {
    date -u +%Y-%m-%dT%H:%M:%S.%6NZ
}

httpd_debug_per_process() {
    awk -v re="$1" -v a="$2" -v b="$3" '
        $1 >= a && $1 < b && $0 ~ re {
            split($2, p, "[[/]"); n[p[2]]++; total++
        }
        END {
            for (k in n) { procs++; if (n[k] > max) max = n[k] }
            print max + 0, total + 0, procs + 0
        }' "$HTTPD_DEBUG_LOG"
}

# httpd_story DESC PUB.pem KEY=VALUE... : see the top of this file.
httpd_story() {
    local desc=$1 pub=$2 mpm half asks children
    shift 2
    half=$((HTTPD_REQUESTS / 2))
    for mpm in $HTTPD_MPMS; do
        echo "--- $desc, $mpm MPM"
        httpd_config mpm="$mpm" max_conn="$HTTPD_MAX_CONN" "$@" || continue
        asks=$(httpd_pin_asks)
        httpd_start || continue
        httpd_served_key_is "$desc ($mpm)" "$pub"
        httpd_load_start "$half" "$HTTPD_CLIENTS"
        sleep 0.5
        httpd_graceful
        httpd_load_wait
        httpd_expect_no_failures "$desc ($mpm): $half requests across a graceful restart"
        httpd_load $((HTTPD_REQUESTS - half)) "$HTTPD_CLIENTS"
        httpd_expect_no_failures "$desc ($mpm): $((HTTPD_REQUESTS - half)) more requests"
        httpd_served_key_is "$desc ($mpm), after the restart" "$pub"
        children=$(httpd_children_served)
        check "$desc ($mpm): children were forked during the test ($children served requests)" \
            test "$children" -gt 2
        [ ! -e "$HTTPD_PIN_HELPER" ] ||
            echo "$desc ($mpm): the PIN helper ran $(($(httpd_pin_asks) - asks)) time(s)"
        httpd_stop
    done
}

# The server and a load still running are ended before lib.sh's verdict.
_httpd_on_exit() {
    local rc=$? p
    [ -z "$HTTPD_LOAD_PID" ] || kill -KILL "$HTTPD_LOAD_PID" 2>/dev/null
    [ -z "$HTTPD_ALIVE_PID" ] || kill -KILL "$HTTPD_ALIVE_PID" 2>/dev/null
    for p in "${HTTPD_VERIFIER_PIDS[@]}"; do
        # shellcheck disable=SC2046
        kill -KILL $(_descendants "$p") "$p" 2>/dev/null
    done
    _httpd_kill_all
    (exit "$rc")
    _on_exit
}
trap _httpd_on_exit EXIT
