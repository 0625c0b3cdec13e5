/*
 * The audit log's own cost: one note appended with the provider's writer
 * (the file lock, the last link read back, SHA-256, one write, fsync), the
 * file system it is on, and a check of the chain the run left.
 */
#include "tests/bench/bench.h"

#include "cache/audit_chain.h"
#include "cache/audit_log.h"
#include "cache/error.h"

#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>

struct audit_append {
    char path[1024];
};

void *audit_append_state(const char *path, char *why, size_t len)
{
    struct audit_append *st = calloc(1, sizeof(*st));

    if (st == NULL) {
        snprintf(why, len, "out of memory");
        return NULL;
    }
    snprintf(st->path, sizeof(st->path), "%s", path);
    return st;
}

bool audit_append_op(void *state, char *why, size_t len)
{
    struct audit_append *st = state;

    if (hsm_audit_note(st->path, "hsm-bench: one record", NULL))
        return true;
    snprintf(why, len, "%s", hsm_error_last_detail());
    return false;
}

void audit_append_free(void *state)
{
    free(state);
}

const char *audit_fs_type(const char *path)
{
    static const struct {
        long magic;
        const char *name;
    } types[] = {
        {EXT4_SUPER_MAGIC, "ext2/3/4"},
        {TMPFS_MAGIC, "tmpfs"},
        {XFS_SUPER_MAGIC, "xfs"},
        {BTRFS_SUPER_MAGIC, "btrfs"},
        {OVERLAYFS_SUPER_MAGIC, "overlayfs"},
    };
    struct statfs fs;

    if (statfs(path, &fs) != 0)
        return "unknown";
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if ((long)fs.f_type == types[i].magic)
            return types[i].name;
    return "another file system";
}

bool audit_log_check(const char *path, size_t *records, bool *holds)
{
    struct hsm_audit_verdict v;

    if (!hsm_audit_read(path, NULL, NULL, &v))
        return false;
    *records = v.lines > 0 ? v.lines - 1 : 0;
    *holds = v.broken_line == 0;
    return true;
}
