/*
 * The table's furniture: the machine and versions it was measured on, and
 * number formats.
 */
#include "tests/bench/bench.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static void cpu_model(char *buf, size_t len)
{
    char line[512];
    FILE *f = fopen("/proc/cpuinfo", "r");

    snprintf(buf, len, "unknown");
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        char *colon = strchr(line, ':');

        if (strncmp(line, "model name", 10) == 0 && colon != NULL) {
            colon += 2;
            colon[strcspn(colon, "\n")] = '\0';
            snprintf(buf, len, "%s", colon);
            break;
        }
    }
    if (f != NULL)
        fclose(f);
}

void cpu_sample(struct cpu_sample *out)
{
    unsigned long long v[8] = {0};
    struct rusage self, kids;
    double tick = (double)sysconf(_SC_CLK_TCK);
    FILE *f = fopen("/proc/stat", "r");

    if (f == NULL || fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
                            &v[3], &v[4], &v[5], &v[6], &v[7]) != 8)
        memset(v, 0, sizeof(v));
    if (f != NULL)
        fclose(f);
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &kids);
    out->wall = bench_now();
    /* user nice system idle iowait irq softirq steal: all but idle and iowait */
    out->busy = (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / tick;
#define TV(t) ((double)(t).tv_sec + (double)(t).tv_usec * 1e-6)
    out->own = TV(self.ru_utime) + TV(self.ru_stime) + TV(kids.ru_utime) + TV(kids.ru_stime);
#undef TV
}

void report_header(const struct versions *v, const struct cpu_sample *start,
                   const struct cpu_sample *end)
{
    double cpus = (double)sysconf(_SC_NPROCESSORS_ONLN), wall = end->wall - start->wall;
    double other = (end->busy - start->busy) - (end->own - start->own);
    char load[64] = "?";
    FILE *f = fopen("/proc/loadavg", "r");

    if (f != NULL) {
        if (fgets(load, sizeof(load), f) != NULL)
            load[strcspn(load, "\n")] = '\0';
        fclose(f);
    }

    struct utsname u;
    char cpu[256], date[64];
    time_t t = time(NULL);

    uname(&u);
    cpu_model(cpu, sizeof(cpu));
    strftime(date, sizeof(date), "%Y-%m-%d %H:%M %Z", localtime(&t));
    printf("## hsm provider benchmark\n\n");
    printf("- date: %s\n", date);
    printf("- machine: %s, %s, %ld online CPUs\n", u.machine, cpu, sysconf(_SC_NPROCESSORS_ONLN));
    printf("- OpenSSL: %s\n", OpenSSL_version(OPENSSL_VERSION));
    printf("- SoftHSM: %s\n", v->softhsm);
    printf("- hsm: %s, revision %s\n", v->hsm_build, v->hsm_revision);
    if (v->peer_package != NULL)
        printf("- pkcs11-provider (the peer): package %s, quirks no-deinit no-operation-state, "
               "otherwise its defaults; in processes of its own\n",
               v->peer_package);
    else
        printf("- pkcs11-provider (the peer): not installed, its columns are n/a "
               "(scripts/install-peer.sh installs it)\n");
    printf("- other processes used %.0f%% of the CPUs during the %.0f s of rounds (the benchmark"
           " %.0f%%); load average at the end: %s\n",
           wall > 0 && other > 0 ? 100 * other / (wall * cpus) : 0, wall,
           wall > 0 ? 100 * (end->own - start->own) / (wall * cpus) : 0, load);
    printf("- message: 32 bytes, SHA-256 (Ed25519: the message itself); medians of the rounds\n\n");
}

const char *fmt_rate(char *buf, size_t len, double v)
{
    if (v <= 0)
        snprintf(buf, len, "n/a");
    else if (v >= 100)
        snprintf(buf, len, "%.0f", v);
    else if (v >= 10)
        snprintf(buf, len, "%.1f", v);
    else
        snprintf(buf, len, "%.2f", v);
    return buf;
}

const char *fmt_ratio(char *buf, size_t len, double num, double den)
{
    if (num <= 0 || den <= 0)
        snprintf(buf, len, "n/a");
    else
        snprintf(buf, len, "%.3f", num / den);
    return buf;
}
