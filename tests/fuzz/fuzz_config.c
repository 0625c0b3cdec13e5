/*
 * libFuzzer target: the provider's configuration (provider/config.c),
 * hsm_config_from_options() given the strings of an openssl.cnf provider
 * section as OpenSSL hands them over.
 *
 * Input: one field per option of the table (provider/options.h), in its
 * order, separated by '\n'; a missing field is NULL (the option is
 * absent). Besides the sanitizers' findings, the target aborts when a
 * parsed configuration disagrees with its input or when the PIN shows up
 * in an error message.
 */
#include "cache/error.h"
#include "provider/options.h"
#include "provider/provider.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FIELDS HSM_OPT_COUNT
#define PIN_FIELD HSM_OPT_TOKEN_PIN

#define MARKER "Zq8CfgPin7781"

/* Set while the PIN is the marker-prefixed one and no other field holds
 * the marker: then the marker must not reach any error message. */
static int check_marker;

static void must(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_config: invariant broken: %s\n", what);
        abort();
    }
}

static void sink(int reason, const char *file, int line, const char *detail)
{
    (void)reason;
    (void)file;
    (void)line;
    if (check_marker)
        must(strstr(detail, MARKER) == NULL, "the PIN appears in an error message");
}

/* yes/no words as config.c documents them; -1 for anything else. */
static int word(const char *v)
{
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

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    hsm_error_set_sink(sink);
    return 0;
}

/* A yes/no option as parsed, against the word given (or its default). */
static void check_bool(char *const field[FIELDS], enum hsm_option_id id, bool parsed)
{
    const char *given = field[id] != NULL ? field[id] : hsm_options[id].default_value;
    int w = word(given);

    must(w >= 0, "a word that is not yes or no was accepted");
    must(parsed == (w == 1), "a yes/no option parsed wrongly");
}

static void parse_and_check(char *const field[FIELDS])
{
    struct hsm_config cfg;
    const char *values[FIELDS];

    for (int i = 0; i < FIELDS; i++)
        values[i] = field[i];
    if (!hsm_config_from_options(&cfg, values))
        return;
    check_bool(field, HSM_OPT_VERIFY_SIGNATURES, cfg.verify_signatures);
    check_bool(field, HSM_OPT_CHECK_POSSESSION, cfg.check_possession);
    check_bool(field, HSM_OPT_PIN_FILE_ALLOW_SHARED, cfg.pin_file_allow_shared);
    check_bool(field, HSM_OPT_PREFER_OTHER_PROVIDERS, cfg.prefer_other_providers);
    if (field[HSM_OPT_MODULE_PATH] != NULL && field[HSM_OPT_MODULE_PATH][0] != '\0')
        must(cfg.module_path != NULL && strcmp(cfg.module_path, field[HSM_OPT_MODULE_PATH]) == 0,
             "module path not kept as given");
    else
        must(cfg.module_path == NULL, "an empty module path was kept");
    if (field[PIN_FIELD] != NULL && field[PIN_FIELD][0] != '\0')
        must(cfg.token_pin != NULL, "token PIN not kept");
    hsm_config_clear(&cfg);
    must(cfg.module_path == NULL && cfg.token_pin == NULL, "clear left something");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
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
    pin = malloc(strlen(MARKER) + (field[PIN_FIELD] != NULL ? strlen(field[PIN_FIELD]) : 0) + 1);
    if (pin != NULL) {
        strcpy(pin, MARKER);
        if (field[PIN_FIELD] != NULL)
            strcat(pin, field[PIN_FIELD]);
        check_marker = 1;
        for (int i = 0; i < FIELDS; i++)
            if (i != PIN_FIELD && field[i] != NULL && strstr(field[i], MARKER) != NULL)
                check_marker = 0;
        field[PIN_FIELD] = pin;
        parse_and_check(field);
        check_marker = 0;
        free(pin);
    }
    free(text);
    return 0;
}
