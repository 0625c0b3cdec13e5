/*
 * libFuzzer target: the provider's configuration parsing (provider/config.c),
 * hsm_config_parse(cfg, module, pin, verify, possession, allow_shared) as
 * OpenSSL hands it the strings of an openssl.cnf provider section.
 *
 * Input: up to five fields separated by '\n' (module path, token PIN,
 * verify-signatures, check-possession, pin-file-allow-shared); a missing
 * field is NULL (the option is absent). Besides the sanitizers' findings,
 * the target aborts when a parsed configuration disagrees with its input
 * or when the PIN shows up in an error message.
 */
#include "cache/error.h"
#include "provider/provider.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FIELDS 5

#define MARKER "Zq8CfgPin7781"

/* Set while the PIN is the marker-prefixed one and no other field holds
 * the marker: then the marker must not reach any error message. */
static int check_marker;

static void must(int cond, const char *what) {
    if (!cond) {
        fprintf(stderr, "fuzz_config: invariant broken: %s\n", what);
        abort();
    }
}

static void sink(int reason, const char *file, int line, const char *detail) {
    (void)reason;
    (void)file;
    (void)line;
    if (check_marker)
        must(strstr(detail, MARKER) == NULL, "the PIN appears in an error message");
}

/* yes/no words as config.c documents them; -1 for anything else. */
static int word(const char *v) {
    static const char *const yes[] = {"yes", "true", "1", "on"};
    static const char *const no[] = {"no", "false", "0", "off"};

    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0)
            return 1;
        if (strcasecmp(v, no[i]) == 0)
            return 0;
    }
    return -1;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    hsm_error_set_sink(sink);
    return 0;
}

static void parse_and_check(char *const field[FIELDS]) {
    struct hsm_config cfg;

    if (!hsm_config_parse(&cfg, field[0], field[1], field[2], field[3], field[4]))
        return;
    int v = field[2] != NULL ? word(field[2]) : 1;
    int c = field[3] != NULL ? word(field[3]) : 1;

    must(v >= 0 && c >= 0, "a word that is not yes or no was accepted");
    must(cfg.verify_signatures == (v == 1), "verify-signatures parsed wrongly");
    must(cfg.check_possession == (c == 1), "check-possession parsed wrongly");
    if (field[0] != NULL && field[0][0] != '\0')
        must(cfg.module_path != NULL && strcmp(cfg.module_path, field[0]) == 0,
             "module path not kept as given");
    else
        must(cfg.module_path == NULL, "an empty module path was kept");
    if (field[1] != NULL && field[1][0] != '\0')
        must(cfg.token_pin != NULL, "token PIN not kept");
    hsm_config_clear(&cfg);
    must(cfg.module_path == NULL && cfg.token_pin == NULL, "clear left something");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1), *field[FIELDS] = {NULL}, *p, *pin;
    int n = 0;

    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    for (p = text; n < FIELDS && p != NULL; n++) {
        field[n] = p;
        p = strchr(p, '\n');
        if (p != NULL)
            *p++ = '\0';
    }
    parse_and_check(field);
    /* Again with a PIN that starts with a marker the fuzzer does not know. */
    pin = malloc(strlen(MARKER) + (field[1] != NULL ? strlen(field[1]) : 0) + 1);
    if (pin != NULL) {
        strcpy(pin, MARKER);
        if (field[1] != NULL)
            strcat(pin, field[1]);
        check_marker = 1;
        for (int i = 0; i < FIELDS; i++)
            if (i != 1 && field[i] != NULL && strstr(field[i], MARKER) != NULL)
                check_marker = 0;
        field[1] = pin;
        parse_and_check(field);
        check_marker = 0;
        free(pin);
    }
    free(text);
    return 0;
}
