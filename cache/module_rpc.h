/*
 * Modules that reach their token through p11-kit's RPC transport
 * (p11-kit-client.so, or a module the proxy reaches with a `remote:`
 * setting) are called by one thread at a time.
 *
 * Why: p11-kit's RPC client (0.24 and 0.25) lets several threads share one
 * socket; a thread that reads a reply meant for another waits on a
 * condition until that other thread takes it. When the server dies
 * between a reply's header and its body, the owner fails and returns
 * without waking the waiter, which then waits for ever inside the module:
 * every later re-initialisation waits for it, and the host hangs (httpd's
 * children never stop). Reproduced with raw PKCS#11 calls, 8 threads and a
 * server killed 30 times: all threads stuck in 5 runs of 5; with the calls
 * serialised, none in 4 of 4. The server handles one request per
 * connection at a time anyway, so little is lost.
 */
#ifndef HSM_CACHE_MODULE_RPC_H
#define HSM_CACHE_MODULE_RPC_H

#include <stdbool.h>

/*
 * True when the module at |path| talks to its token through p11-kit's RPC
 * client: the file is p11-kit-client.so, or it is p11-kit's proxy and a
 * module registered with p11-kit is p11-kit-client.so or has a `remote`
 * setting. Reads p11-kit's configuration; call once per module load.
 */
bool hsm_module_uses_p11kit_rpc(const char *path);

/* True when the last component of |path| (NULL: false) is |file|. */
bool hsm_module_file_is(const char *path, const char *file);

#endif
