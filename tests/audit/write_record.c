/*
 * Writes one operation record with the provider's own hook, for the
 * hsm-audit tests that need records of signatures made outside the
 * provider (a certificate signed by plain OpenSSL, whose digest and
 * signature the test extracted itself):
 *
 *   write_record LOG OPERATION KEY_URI DATA_FILE SIGNATURE_FILE
 *
 * OPERATION is sign or decrypt; a file given as - is left out.
 */
#include "cache/audit_log.h"
#include "cache/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned char *slurp(const char *file, size_t *len)
{
    unsigned char *buf = malloc(1 << 20);
    FILE *f = strcmp(file, "-") != 0 ? fopen(file, "rb") : NULL;

    *len = 0;
    if (f == NULL || buf == NULL) {
        free(buf);
        if (f != NULL)
            fclose(f);
        return NULL;
    }
    *len = fread(buf, 1, 1 << 20, f);
    fclose(f);
    return buf;
}

int main(int argc, char **argv)
{
    struct hsm_audit_log *log = NULL;
    struct hsm_key key;
    struct hsm_audit_event ev = {.key = &key, .ok = true};
    unsigned char *data, *sig;
    int rc;
    bool ok;

    if (argc != 6) {
        fprintf(stderr, "usage: write_record LOG OPERATION KEY_URI DATA_FILE SIGNATURE_FILE\n");
        return 2;
    }
    memset(&key, 0, sizeof(key));
    key.uri = argv[3];
    memset(key.fingerprint, 'f', 64);
    strcpy(key.token_id.label, "test");
    ev.op = strcmp(argv[2], "sign") == 0 ? HSM_AUDIT_SIGN : HSM_AUDIT_DECRYPT;
    data = slurp(argv[4], &ev.data_len);
    sig = slurp(argv[5], &ev.signature_len);
    ev.data = data;
    ev.signature = sig;
    ok = hsm_audit_log_configure(argv[1], NULL, "fail", &log) && hsm_audit_operation(log, &ev);
    rc = ok ? 0 : 1;
    if (rc != 0)
        fprintf(stderr, "write_record: %s\n", hsm_error_last_detail());
    hsm_audit_log_free(log);
    free(data);
    free(sig);
    return rc;
}
