#include "uri/pin_source.h"

#include "cache/error.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *hsm_pin_dup(const char *pin)
{
    size_t len = strlen(pin);
    char *copy;

    if (len > HSM_PIN_MAX) {
        hsm_error(HSM_R_PIN_SOURCE, "the PIN is longer than %d bytes", HSM_PIN_MAX);
        return NULL;
    }
    copy = OPENSSL_secure_malloc(len + 1);
    if (copy != NULL)
        memcpy(copy, pin, len + 1);
    return copy;
}

void hsm_pin_free(char *pin)
{
    if (pin != NULL)
        OPENSSL_secure_clear_free(pin, strlen(pin) + 1);
}

static const char *source_path(const char *source)
{
    if (strncmp(source, "file:", 5) == 0)
        source += 5;
    /* file:///abs/path is the long form of file:/abs/path. */
    if (strncmp(source, "//", 2) == 0)
        source += 2;
    return source;
}

char *hsm_pin_from_source(const char *source, bool allow_shared)
{
    const char *path = source_path(source);
    char buf[HSM_PIN_MAX + 2];
    char *pin = NULL;
    struct stat st;
    ssize_t got;
    size_t len = 0;
    int fd;

    if (path[0] != '/') {
        hsm_error(HSM_R_PIN_SOURCE, "PIN source \"%s\" is not an absolute file path", source);
        return NULL;
    }
    /* O_NONBLOCK so that a FIFO cannot hang the host; refused below.
     * O_NOFOLLOW: a link would let whoever can write its directory point
     * the provider at another file. */
    fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
    if (fd < 0 && errno == ELOOP) {
        hsm_error(HSM_R_PIN_SOURCE, "PIN file %s is a symbolic link; name the file itself", path);
        return NULL;
    }
    if (fd < 0) {
        hsm_error(HSM_R_PIN_SOURCE, "cannot open PIN file %s: %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        hsm_error(HSM_R_PIN_SOURCE, "PIN file %s is not a regular file", path);
        goto done;
    }
    /* Another user's file is that user's to change: its content could be
     * any PIN, or another file's secret sent to the token. */
    if (st.st_uid != geteuid() && st.st_uid != 0) {
        hsm_error(HSM_R_PIN_SOURCE,
                  "PIN file %s is owned by uid %u, neither this process's user (uid %u) nor "
                  "root; chown it",
                  path, (unsigned)st.st_uid, (unsigned)geteuid());
        goto done;
    }
    if (!allow_shared && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        hsm_error(HSM_R_PIN_SOURCE,
                  "PIN file %s can be read by other users (mode %03o); run chmod 600 on it", path,
                  (unsigned)(st.st_mode & 0777));
        goto done;
    }
    while (len < sizeof(buf) && (got = read(fd, buf + len, sizeof(buf) - len)) > 0)
        len += (size_t)got;
    if (len > HSM_PIN_MAX + 1 || (len == HSM_PIN_MAX + 1 && buf[len - 1] != '\n')) {
        hsm_error(HSM_R_PIN_SOURCE, "PIN file %s is longer than %d bytes", path, HSM_PIN_MAX);
        goto done;
    }
    if (len > 0 && buf[len - 1] == '\n')
        len--;
    if (len > 0 && buf[len - 1] == '\r')
        len--;
    if (len == 0 || memchr(buf, '\0', len) != NULL) {
        hsm_error(HSM_R_PIN_SOURCE, "PIN file %s is empty or holds a NUL byte", path);
        goto done;
    }
    pin = OPENSSL_secure_malloc(len + 1);
    if (pin != NULL) {
        memcpy(pin, buf, len);
        pin[len] = '\0';
    }
done:
    OPENSSL_cleanse(buf, sizeof(buf));
    close(fd);
    return pin;
}
