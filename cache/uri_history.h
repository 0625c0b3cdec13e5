/*
 * For the log alone (design.md allows it): the fingerprint each URI last
 * resolved to in this process, so that a load that finds another key
 * under a URI an earlier load resolved says so in the debug log. It never
 * decides what a load returns.
 */
#ifndef HSM_CACHE_URI_HISTORY_H
#define HSM_CACHE_URI_HISTORY_H

/* |uri| as the application gave it (PIN-free), the key found for it. */
void hsm_uri_history_note(const char *uri, const char *fingerprint, const char *key_uri);

#endif
