#include "cache/uri_history.h"

#include "cache/debug_log.h"
#include "cache/fork_gate.h"
#include "cache/lock.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

/* The last URIs loaded, by the SHA-256 of their text: a bounded table,
 * the oldest entry replaced first. */
#define HISTORY_MAX 256
static struct {
    unsigned char uri_hash[32];
    char fingerprint[65];
} history[HISTORY_MAX];
static size_t n_history, next_slot;
/* Taken inside the fork gate. */
static pthread_mutex_t history_lock = PTHREAD_MUTEX_INITIALIZER;

void hsm_uri_history_note(const char *uri, const char *fingerprint, const char *key_uri)
{
    unsigned char hash[32];
    char was[65] = "";

    if (hsm_debug_level() < 1 || uri == NULL || fingerprint == NULL ||
        !EVP_Digest(uri, strlen(uri), hash, NULL, EVP_sha256(), NULL))
        return;
    hsm_fork_gate_enter();
    if (hsm_lock(&history_lock)) {
        size_t i;

        for (i = 0; i < n_history; i++)
            if (memcmp(history[i].uri_hash, hash, sizeof(hash)) == 0)
                break;
        if (i == n_history) {
            i = next_slot;
            next_slot = (next_slot + 1) % HISTORY_MAX;
            if (n_history < HISTORY_MAX)
                n_history++;
            memcpy(history[i].uri_hash, hash, sizeof(hash));
        } else if (strcmp(history[i].fingerprint, fingerprint) != 0) {
            snprintf(was, sizeof(was), "%s", history[i].fingerprint);
        }
        snprintf(history[i].fingerprint, sizeof(history[i].fingerprint), "%s", fingerprint);
        hsm_unlock(&history_lock);
    }
    hsm_fork_gate_leave();
    if (was[0] != '\0')
        hsm_debug(1,
                  "%s now resolves to another key than at its last load in this process: public "
                  "key SHA-256 %s, was SHA-256 %s (%s). If the key was replaced on purpose, "
                  "replace the certificate that goes with it",
                  uri, fingerprint, was, key_uri);
}
