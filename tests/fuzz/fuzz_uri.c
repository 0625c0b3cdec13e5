/*
 * libFuzzer target: pkcs11: URI parsing, redaction and search-template
 * building (uri/uri.c), the code every untrusted URI string goes through.
 *
 * Each input is tried twice: as given, and with a marker PIN appended as
 * one more query component ("pin-value=<marker>"). Besides the sanitizers'
 * findings, the target aborts when
 *   - the marker PIN shows up in the redacted URI or in any error detail
 *     the provider raised (a PIN must never reach a message), or
 *   - a parsed URI's search template is out of bounds or inconsistent.
 */
#include "cache/error.h"
#include "uri/uri.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MARKER "Zq8FuzzPin7781"

/* When the fuzzer's own input holds the marker, the PIN checks are off. */
static int marker_in_input;
static int errors_seen;

static void must(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_uri: invariant broken: %s\n", what);
        abort();
    }
}

static void sink(int reason, const char *file, int line, const char *detail)
{
    (void)reason;
    (void)file;
    (void)line;
    errors_seen++;
    if (!marker_in_input)
        must(strstr(detail, MARKER) == NULL, "the PIN appears in an error message");
}

static void exercise(const char *text)
{
    struct hsm_uri *uri;
    char *redacted, unknown[64];
    CK_ATTRIBUTE tmpl[3];
    CK_OBJECT_CLASS force = CKO_PRIVATE_KEY;
    CK_TOKEN_INFO tinfo;
    CK_SLOT_INFO sinfo;
    CK_INFO minfo;
    size_t n;

    redacted = hsm_uri_redact(text);
    if (redacted != NULL) {
        const char *q = strchr(redacted, '?');

        /* No query component of the redacted URI gives a pin-value (a
         * bare "pin-value" with no '=' carries nothing and may stay). */
        for (const char *p = q; p != NULL; p = strchr(p + 1, '&'))
            must(strncmp(p + 1, "pin-value=", 10) != 0, "a pin-value survived redaction");
        if (!marker_in_input)
            must(strstr(redacted, MARKER) == NULL, "the PIN survived redaction");
        free(redacted);
    }
    if (strncmp(text, "pkcs11:", 7) == 0)
        (void)hsm_uri_find_unknown_attribute(text, unknown, sizeof(unknown));

    uri = hsm_uri_parse(text);
    if (uri == NULL)
        return;
    must(uri->redacted != NULL, "no redacted form");
    if (!marker_in_input)
        must(strstr(uri->redacted, MARKER) == NULL, "the PIN is in the parsed URI's redacted form");

    n = hsm_uri_object_template(uri, NULL, tmpl);
    must(n <= 3, "template too long");
    for (size_t i = 0; i < n; i++)
        must(tmpl[i].pValue != NULL || tmpl[i].ulValueLen == 0, "template value missing");
    n = hsm_uri_object_template(uri, &force, tmpl);
    must(n >= 1 && n <= 3 && tmpl[0].type == CKA_CLASS, "forced class not first");
    (void)hsm_uri_names_object(uri);

    memset(&tinfo, ' ', sizeof(tinfo));
    memcpy(tinfo.label, "fuzz", 4);
    memcpy(tinfo.serialNumber, "0123456789abcdef", 16);
    memset(&sinfo, ' ', sizeof(sinfo));
    memset(&minfo, ' ', sizeof(minfo));
    minfo.cryptokiVersion.major = 2;
    minfo.cryptokiVersion.minor = 40;
    minfo.libraryVersion.major = 2;
    minfo.libraryVersion.minor = 6;
    (void)hsm_uri_match_token(uri, &tinfo);
    (void)hsm_uri_match_slot(uri, 1, &sinfo);
    (void)hsm_uri_match_module(uri, &minfo);
    (void)hsm_uri_pin_value(uri);
    (void)hsm_uri_pin_source(uri);
    (void)hsm_uri_module_path(uri);
    hsm_uri_free(uri);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    hsm_error_set_sink(sink);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1 + sizeof("&pin-value=" MARKER));

    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    marker_in_input = memmem(data, size, MARKER, strlen(MARKER)) != NULL;
    exercise(text);
    /* The same URI carrying a PIN: it must never come out. */
    strcat(text, strchr(text, '?') != NULL ? "&pin-value=" MARKER : "?pin-value=" MARKER);
    exercise(text);
    free(text);
    return 0;
}
