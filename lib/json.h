/*
 * json.h - shared helpers of the JSON writers.
 */
#ifndef MX_JSON_H
#define MX_JSON_H

#include <stddef.h>
#include <stdio.h>

/*
 * Writes s as a JSON string (RFC 8259) with its quotes.  Names from DNS
 * are ASCII by now (answer.c escapes other bytes); user input may be
 * UTF-8, which passes through, while bytes that are not UTF-8 become
 * U+FFFD so the line stays valid JSON.
 */
void json_string(FILE *f, const char *s);

#endif
