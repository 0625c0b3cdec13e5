#!/bin/sh
# The whole root-CA ceremony, steps 1 to 6, from one parameter file.
#
#   run-ceremony.sh PARAMETERS CEREMONY_DIR
#
# PARAMETERS holds NAME=value lines (blank lines and # comments allowed;
# values are taken literally, without quotes) naming the CEREMONY_*
# parameters of the steps; see example.params and README.md. It is read,
# not run: any other line stops the ceremony before it starts. It never
# holds the PIN. CEREMONY_* variables from the environment are ignored, so
# the file alone says what the ceremony does.
#
# The steps run in order; the first that fails stops the ceremony, and the
# exit status is non-zero. At the end the transcript's SHA-256 is shown, for
# the witnesses to write down with the key fingerprint.
set -u
HERE=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd) || exit 1

if [ "$#" -ne 2 ]; then
    echo "usage: $0 PARAMETERS CEREMONY_DIR" >&2
    exit 2
fi
PARAMS=$1
DIR=$2

KNOWN="CEREMONY_MODULE CEREMONY_TOKEN CEREMONY_TOKEN_SERIAL CEREMONY_KEY_LABEL CEREMONY_KEY_ID
CEREMONY_PIN_FILE CEREMONY_PROVIDER CEREMONY_KEY_TYPE CEREMONY_ROOT_SUBJECT CEREMONY_ROOT_DAYS
CEREMONY_DIGEST CEREMONY_CSR CEREMONY_CRL_URL CEREMONY_INTERMEDIATE_NAME
CEREMONY_INTERMEDIATE_DAYS CEREMONY_PATHLEN CEREMONY_INTERMEDIATE_KEY_USAGE CEREMONY_CRL_DAYS
CEREMONY_AUDIT_LOG"
for name in $KNOWN; do
    unset "$name"
done

[ -f "$PARAMS" ] || { echo "run-ceremony: no parameter file $PARAMS" >&2; exit 2; }
lineno=0
while IFS= read -r line || [ -n "$line" ]; do
    lineno=$((lineno + 1))
    line=$(printf '%s' "$line" | tr -d '\r')
    case $line in '' | '#'*) continue ;; esac
    case $line in
    *=*) ;;
    *) echo "run-ceremony: $PARAMS line $lineno is not NAME=value" >&2; exit 2 ;;
    esac
    name=${line%%=*}
    value=${line#*=}
    case " $(printf '%s' "$KNOWN" | tr '\n' ' ') " in
    *" $name "*) ;;
    *) echo "run-ceremony: $PARAMS line $lineno: unknown parameter $name" >&2; exit 2 ;;
    esac
    export "$name=$value"
done <"$PARAMS"

# A relative CSR or PIN file is relative to the parameter file's directory.
PARAMS_DIR=$(CDPATH='' cd -- "$(dirname -- "$PARAMS")" && pwd) || exit 1
case ${CEREMONY_CSR:-/} in /*) ;; *) CEREMONY_CSR=$PARAMS_DIR/$CEREMONY_CSR ;; esac
case ${CEREMONY_PIN_FILE:-/} in /*) ;; *) CEREMONY_PIN_FILE=$PARAMS_DIR/$CEREMONY_PIN_FILE ;; esac

for step in 1-prepare 2-generate 3-self-sign 4-check-root 5-sign-intermediate 6-issue-crl; do
    if [ "$step" = 5-sign-intermediate ] && [ -z "${CEREMONY_CSR:-}" ]; then
        echo "run-ceremony: no CEREMONY_CSR, no intermediate signed"
        continue
    fi
    if ! sh "$HERE/$step.sh" "$DIR"; then
        echo "run-ceremony: the ceremony stopped at step $step; see $DIR/transcript.log" >&2
        exit 1
    fi
done

echo
echo "The ceremony is complete. Outputs in $DIR:"
(cd "$DIR" && ls -l)
echo
echo "transcript.log sha256 $(env OPENSSL_CONF=/dev/null "${CEREMONY_OPENSSL:-openssl}" dgst -sha256 -r \
    "$DIR/transcript.log" | sed 's/ .*//')"
# The chain cannot show records cut from its end: its last link, written
# down, can.
AUDIT_LOG=$(sed -n 's/^audit-log = //p' "$DIR/openssl-hsm.cnf" | head -n 1)
if [ -n "$AUDIT_LOG" ]; then
    "${CEREMONY_HSM_AUDIT:-hsm-audit}" verify "$AUDIT_LOG" || exit 1
    echo "Witnesses: write down this hash, the audit log's last link and the key fingerprint above."
else
    echo "Witnesses: write down this hash with the key fingerprint above."
fi
