/*
 * test_strbuf.c - lib/strbuf.c, the bounded appender: a piece that fills
 * the buffer exactly fits, one byte more is cut and marked "...", appends
 * after a cut change nothing and never write past the buffer (guard bytes
 * around it), the mark in buffers too small for all of it, size 0.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "strbuf.h"

#define GUARD 32

/* A buffer of size bytes inside guard bytes that must stay as they are. */
struct guarded {
	char mem[GUARD + 64 + GUARD];
	size_t size;
};

static char *
guarded_init(struct guarded *g, size_t size)
{
	assert_true(size <= 64);
	memset(g->mem, 0x5a, sizeof(g->mem));
	g->size = size;
	return g->mem + GUARD;
}

static void
guarded_check(const struct guarded *g)
{
	for (size_t i = 0; i < GUARD; i++) {
		assert_int_equal(g->mem[i], 0x5a);
		assert_int_equal(g->mem[GUARD + g->size + i], 0x5a);
	}
}

static void
test_exact_fill(void **state)
{
	struct guarded g;
	struct strbuf sb;

	(void)state;
	strbuf_init(&sb, guarded_init(&g, 8), 8);
	assert_true(strbuf_add(&sb, "123"));
	assert_true(strbuf_printf(&sb, "%d%s", 45, "67"));
	assert_string_equal(sb.buf, "1234567");
	assert_int_equal(sb.len, 7);
	assert_false(sb.truncated);
	guarded_check(&g);
}

static void
test_one_over(void **state)
{
	struct guarded g;
	struct strbuf sb;

	(void)state;
	strbuf_init(&sb, guarded_init(&g, 8), 8);
	assert_false(strbuf_printf(&sb, "%s", "12345678"));
	assert_string_equal(sb.buf, "1234...");
	assert_true(sb.truncated);
	assert_int_equal(sb.len, 7);
	guarded_check(&g);

	/* exactly full, then one byte more, each way of adding */
	strbuf_init(&sb, guarded_init(&g, 8), 8);
	assert_true(strbuf_add(&sb, "1234567"));
	assert_false(strbuf_addc(&sb, '8'));
	assert_string_equal(sb.buf, "1234...");
	guarded_check(&g);
	strbuf_init(&sb, guarded_init(&g, 8), 8);
	assert_true(strbuf_add(&sb, "1234567"));
	assert_false(strbuf_addn(&sb, "89", 1));
	assert_string_equal(sb.buf, "1234...");
	guarded_check(&g);
}

static void
test_many_after_truncation(void **state)
{
	struct guarded g;
	struct strbuf sb;

	(void)state;
	strbuf_init(&sb, guarded_init(&g, 16), 16);
	for (int i = 0; i < 1000; i++) {
		bool ok = (i % 3 == 0) ? strbuf_printf(&sb, "<%d>", i)
		    : (i % 3 == 1)     ? strbuf_add(&sb, "; ")
				       : strbuf_addc(&sb, 'x');
		assert_true(ok == (i < 7)); /* "<0>; x<3>; x<6>" is 15: exactly full */
		assert_true(sb.len < sb.size);
		assert_int_equal(strlen(sb.buf), sb.len);
	}
	assert_string_equal(sb.buf, "<0>; x<3>; x...");
	assert_true(sb.truncated);
	guarded_check(&g);
}

static void
test_visible_mark(void **state)
{
	static const char *const want[] = { "", ".", "..", "...", "a...", "ab..." };
	struct guarded g;
	struct strbuf sb;

	(void)state;
	for (size_t size = 1; size <= 6; size++) {
		strbuf_init(&sb, guarded_init(&g, size), size);
		assert_false(strbuf_add(&sb, "abcdefghij"));
		assert_string_equal(sb.buf, want[size - 1]);
		guarded_check(&g);
	}
	/* a cut made by the caller marks after the text when there is room */
	strbuf_init(&sb, guarded_init(&g, 16), 16);
	strbuf_add(&sb, "ab");
	strbuf_truncate(&sb);
	assert_string_equal(sb.buf, "ab...");
	assert_false(strbuf_add(&sb, "c"));
	assert_string_equal(sb.buf, "ab...");
	/* and over the end when there is not */
	strbuf_init(&sb, guarded_init(&g, 6), 6);
	strbuf_add(&sb, "abcd");
	strbuf_truncate(&sb);
	assert_string_equal(sb.buf, "ab...");
	guarded_check(&g);
}

static void
test_size_zero(void **state)
{
	struct strbuf sb;

	(void)state;
	strbuf_init(&sb, NULL, 0);
	assert_false(strbuf_add(&sb, "a"));
	assert_false(strbuf_printf(&sb, "%s", ""));
	assert_false(strbuf_addc(&sb, 'a'));
	assert_true(sb.truncated);
	assert_int_equal(sb.len, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact_fill),
		cmocka_unit_test(test_one_over),
		cmocka_unit_test(test_many_after_truncation),
		cmocka_unit_test(test_visible_mark),
		cmocka_unit_test(test_size_zero),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
