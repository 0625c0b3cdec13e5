/*
 * The figures the charts are drawn from (tests/bench/draw_charts.sh), as
 * gnuplot reads them: one row per key or token, columns separated by
 * spaces, NaN where a contender has no figure. The Markdown tables stay
 * the full record; these are what docs/performance.md pictures.
 */
#include "tests/bench/bench.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static double or_nan(double v)
{
    return v > 0 ? v : NAN;
}

static double ms_or_nan(const struct contender *c)
{
    double rate = contender_median(c);

    return rate > 0 ? 1000.0 / rate : NAN;
}

static FILE *open_in(const char *dir, const char *name, char *path, size_t len)
{
    FILE *f;

    snprintf(path, len, "%s/%s", dir, name);
    f = fopen(path, "w");
    if (f == NULL)
        fprintf(stderr, "hsm-bench: cannot write %s\n", path);
    return f;
}

static bool close_ok(FILE *f, const char *path)
{
    if (f != NULL && fclose(f) == 0)
        return true;
    fprintf(stderr, "hsm-bench: cannot write %s\n", path);
    return false;
}

/* Signatures/s, one thread: raw, pkcs11-provider, hsm, per key. */
static bool write_signing(const char *dir, const char *name, const struct alg *algs, size_t nalgs,
                          bool shim)
{
    char path[1100];
    FILE *f = open_in(dir, name, path, sizeof(path));

    if (f == NULL)
        return false;
    fprintf(f,
            "# signatures/s, one thread, %s; medians of the rounds\n"
            "# key raw_pkcs11 pkcs11_provider hsm\n",
            shim ? "1 ms per signature (fault shim over SoftHSMv2)" : "SoftHSMv2");
    for (size_t i = 0; i < nalgs; i++) {
        const struct alg *x = &algs[i];

        fprintf(f, "%s %.1f %.1f %.1f\n", x->name,
                or_nan(contender_median(shim ? &x->sraw : &x->raw1)),
                or_nan(contender_median(shim ? &x->speer : &x->peer1)),
                or_nan(contender_median(shim ? &x->son : &x->on1)));
    }
    return close_ok(f, path);
}

/* ms per key load against the objects on the token. */
static bool write_load(const char *dir, const struct load_row *rows, int n)
{
    char path[1100];
    FILE *f = open_in(dir, "keyload.dat", path, sizeof(path));

    if (f == NULL)
        return false;
    fprintf(f, "# ms per load of the P-256 key (OSSL_STORE open+load+close; raw: slot, "
               "search, attributes); medians of the rounds\n"
               "# objects raw_pkcs11 pkcs11_provider hsm\n");
    for (int i = 0; i < n; i++)
        fprintf(f, "%ld %.3f %.3f %.3f\n", rows[i].objects, ms_or_nan(&rows[i].raw),
                ms_or_nan(&rows[i].peer), ms_or_nan(&rows[i].pos));
    return close_ok(f, path);
}

bool write_data_files(const char *dir, const struct alg *algs, size_t nalgs, bool have_shim,
                      const struct load_row *rows, int nrows)
{
    bool ok = write_signing(dir, "signing-softhsm.dat", algs, nalgs, false);

    if (have_shim)
        ok = write_signing(dir, "signing-1ms.dat", algs, nalgs, true) && ok;
    return write_load(dir, rows, nrows) && ok;
}
