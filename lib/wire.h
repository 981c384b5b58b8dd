/*
 * wire.h - strict structural check of a DNS message (see wire.c for why
 * ldns alone is not enough).
 */
#ifndef MX_WIRE_H
#define MX_WIRE_H

#include <stddef.h>
#include <stdint.h>

/* NULL when the message is well formed, else a sentence saying why not. */
const char *wire_check(const uint8_t *wire, size_t len);

#endif
