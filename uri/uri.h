/* pkcs11: URIs (RFC 7512) as the provider understands them. */
#ifndef HSM_URI_URI_H
#define HSM_URI_URI_H

#include <p11-kit/pkcs11.h>
#include <p11-kit/uri.h>
#include <stdbool.h>
#include <stddef.h>

struct hsm_uri {
    P11KitUri *p11;
    /* The URI as written, minus any pin-value: safe for every message. */
    char *redacted;
    bool has_class;
    CK_OBJECT_CLASS klass;
    bool has_id;
    bool has_label;
};

/*
 * Parses |text|. Fails (raising an error that names the offending part)
 * on bad syntax, bad percent-encoding and on any attribute that p11-kit does
 * not understand: a typo must never widen the match. A module-name is
 * refused: the provider has nothing to compare it with (uri.c says why).
 */
struct hsm_uri *hsm_uri_parse(const char *text);
void hsm_uri_free(struct hsm_uri *uri);

/* The first path or query attribute name that is not in RFC 7512's set,
 * copied into |buf|; false when all are known. Exposed for unit tests. */
bool hsm_uri_find_unknown_attribute(const char *text, char *buf, size_t buflen);

/* The first attribute given twice, or holding %00 (|*nul| says which). */
bool hsm_uri_find_repeat_or_nul(const char *text, char *buf, size_t buflen, bool *nul);

/* |text| with any pin-value removed; caller frees. */
char *hsm_uri_redact(const char *text);

bool hsm_uri_match_module(const struct hsm_uri *uri, CK_INFO *info);
bool hsm_uri_match_slot(const struct hsm_uri *uri, CK_SLOT_ID id, CK_SLOT_INFO *info);
bool hsm_uri_match_token(const struct hsm_uri *uri, CK_TOKEN_INFO *info);

/* Does the URI name anything below the token (object, id or type)? */
bool hsm_uri_names_object(const struct hsm_uri *uri);

/*
 * Search template from the URI's class, id and label, optionally with a
 * class forced by the caller. Returns the number of attributes written
 * (at most 3); the values point into the URI.
 */
size_t hsm_uri_object_template(const struct hsm_uri *uri, const CK_OBJECT_CLASS *force_class,
                               CK_ATTRIBUTE tmpl[3]);

const char *hsm_uri_pin_value(const struct hsm_uri *uri);
const char *hsm_uri_pin_source(const struct hsm_uri *uri);
const char *hsm_uri_module_path(const struct hsm_uri *uri);

#endif
