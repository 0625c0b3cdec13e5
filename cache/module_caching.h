/*
 * Restart equivalence on modules that keep their own view of the token for
 * the life of the process. tpm2-pkcs11 reads its object list from its
 * store (an SQLite file) at C_Initialize and never again: after another
 * process deleted a key, it still finds and signs with it; NSS softoken
 * keeps its database files open, so a database made anew in their place is
 * never seen. Fresh enumeration, the cross-check and the possession proof
 * cannot see that: the stale view is consistent.
 *
 * For such a module the provider watches the files the module's view comes
 * from (their inode, size and modification time: one stat each) before
 * every load and every operation with a held key; when one changed, the
 * module is initialised again before it is used, as a restarted process
 * would, and held keys find their objects again by identity (a key that
 * was deleted or replaced is refused). Other threads are not disturbed:
 * the re-initialisation waits for the calls in progress, and their keys
 * are found again like any key after a re-initialisation.
 *
 * Watched, per module (the path names it):
 *   libtpm2_pkcs11   the store tpm2-pkcs11 would open: $TPM2_PKCS11_STORE,
 *                    /etc/tpm2_pkcs11, $HOME/.tpm2_pkcs11 (tpm2_pkcs11.sqlite3
 *                    and its -journal and -wal)
 *   libsoftokn3      the configdir of pkcs11-module-init-args (cert9.db,
 *                    key4.db)
 * Other modules (SoftHSMv2, openCryptoki, remote tokens) read the token on
 * each call and need nothing.
 */
#ifndef HSM_CACHE_MODULE_CACHING_H
#define HSM_CACHE_MODULE_CACHING_H

#include "cache/module.h"

#include <stdbool.h>

/*
 * The trigger: when a file |mod|'s view comes from changed since the
 * module generation in use began, tells the module's one place for
 * re-initialisation (hsm_module_observe, HSM_SIGN_STORE_CHANGED), which
 * initialises it again at its next entry. Called outside every module call
 * and outside the fork gate, before a load enumerates and before an
 * operation with a held key. False (an error raised) only when the module
 * cannot be entered.
 */
bool hsm_module_refresh_if_outdated(struct hsm_module *mod);

/*
 * The decision alone: true when generation |generation| of |mod| may hold
 * a view older than its files (a file changed since it began, or a change
 * was seen and that generation is still in use). Updates the record.
 */
bool hsm_module_view_outdated(struct hsm_module *mod, unsigned generation);

#endif
