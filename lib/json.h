/*
 * json.h - shared helpers of the JSON writers.
 */
#ifndef MX_JSON_H
#define MX_JSON_H

#include <stddef.h>

/* Length of the valid UTF-8 sequence at s (RFC 3629), 0 if invalid. */
size_t json_utf8_length(const unsigned char *s);

#endif
