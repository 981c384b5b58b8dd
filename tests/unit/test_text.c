/*
 * test_text.c - lib/text.c, the string store, and the text setters of
 * plan.c built on it: strings stay put while the store grows (short,
 * chunk-sized and longer than any chunk), the empty string costs nothing,
 * text_printf cuts exactly where snprintf into a char[cap] cuts, freeing
 * empties the store; host_add_reason, plan_set_reason and
 * host_set_family_why give what the fixed buffers they replace gave
 * (joins with "; ", caps), and hosts keep their text when moved by value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "plan.h"
#include "text.h"

#define MANY 3000

/* Text of length len, distinct per seed. */
static void
fill(char *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)('a' + (seed * 7 + i) % 26);
	buf[len] = '\0';
}

static void
test_empty(void **state)
{
	struct text_store s = { 0 };

	(void)state;
	assert_string_equal(text_add(&s, "abc", 0), "");
	assert_string_equal(text_copy(&s, ""), "");
	assert_string_equal(text_printf(&s, 10, "%s", ""), "");
	assert_string_equal(text_printf(&s, 0, "%s", "abc"), "");
	/* Nothing was allocated for them. */
	assert_null(s.head);
	assert_non_null(text_copy(&s, "x"));
	assert_non_null(s.head);
	text_store_free(&s);
	assert_null(s.head);
	text_store_free(&s);
}

/* Lengths from 1 to 1100: chunk-sized, the doubling and the long ones. */
static void
test_stable(void **state)
{
	static const char *kept[MANY];
	struct text_store s = { 0 };
	char buf[1200];

	(void)state;
	for (unsigned i = 0; i < MANY; i++) {
		size_t len = 1 + (i * 37u) % 1100;
		fill(buf, len, i);
		kept[i] = text_add(&s, buf, len);
		assert_non_null(kept[i]);
		assert_string_equal(kept[i], buf);
	}
	for (unsigned i = 0; i < MANY; i++) {
		fill(buf, 1 + (i * 37u) % 1100, i);
		assert_string_equal(kept[i], buf);
	}
	text_store_free(&s);
}

/* Only len bytes are copied, whatever follows them. */
static void
test_add_len(void **state)
{
	struct text_store s = { 0 };

	(void)state;
	assert_string_equal(text_add(&s, "mx.example.test.", 15), "mx.example.test");
	assert_string_equal(text_add(&s, "ab", 1), "a");
	text_store_free(&s);
}

static void
check_printf(struct text_store *s, size_t cap, const char *arg)
{
	char want[1100];
	const char *got;

	snprintf(want, cap, "<%s>", arg);
	got = text_printf(s, cap, "<%s>", arg);
	assert_non_null(got);
	assert_string_equal(got, want);
}

static void
test_printf(void **state)
{
	static const size_t caps[] = { 1, 2, 3, 10, 160, 384, 512, 1024 };
	struct text_store s = { 0 };
	char arg[1100];

	(void)state;
	for (size_t c = 0; c < sizeof(caps) / sizeof(caps[0]); c++) {
		for (size_t len = 0; len < sizeof(arg) - 1; len += 97) {
			fill(arg, len, (unsigned)len);
			check_printf(&s, caps[c], arg);
		}
	}
	text_store_free(&s);
}

/* What the char reason[384] of mx_host held after the same appends. */
static void
old_add_reason(char reason[HOST_REASON_MAX], const char *text)
{
	size_t len = strlen(reason);

	if (len > 0 && len + 2 < HOST_REASON_MAX) {
		memcpy(reason + len, "; ", 3);
		len += 2;
	}
	snprintf(reason + len, HOST_REASON_MAX - len, "%s", text);
}

static void
test_host_reason(void **state)
{
	char old[HOST_REASON_MAX] = "", part[200];
	struct mx_host h;
	mx_plan *plan = NULL;

	(void)state;
	assert_int_equal(plan_new("example.test", &plan), MX_OK);
	host_init(&h, plan->domain);
	assert_string_equal(h.reason, "");
	host_add_reason(plan, &h, "A lookup failed: %s", "timeout");
	host_add_reason(plan, &h, "AAAA lookup failed: %s", "SERVFAIL");
	assert_string_equal(h.reason, "A lookup failed: timeout; AAAA lookup failed: SERVFAIL");
	/* Appended past the cap: cut where the buffer cut, 383 bytes. */
	host_init(&h, plan->domain);
	for (unsigned i = 0; i < 12; i++) {
		fill(part, 10 + i * 13, i);
		old_add_reason(old, part);
		host_add_reason(plan, &h, "%s", part);
		assert_string_equal(h.reason, old);
	}
	assert_int_equal(strlen(h.reason), HOST_REASON_MAX - 1);
	mx_plan_free(plan);
}

static void
test_plan_text(void **state)
{
	char long_reason[PLAN_REASON_MAX + 100], why[HOST_WHY_MAX + 50];
	struct mx_host pair[2], tmp;
	mx_plan *plan = NULL;

	(void)state;
	assert_int_equal(plan_new("example.test", &plan), MX_OK);
	assert_string_equal(plan->reason, "");
	assert_string_equal(plan->canonical, "example.test");
	fill(long_reason, sizeof(long_reason) - 1, 3);
	plan_set_reason(plan, "%s", long_reason);
	assert_int_equal(strlen(plan->reason), PLAN_REASON_MAX - 1);
	assert_memory_equal(plan->reason, long_reason, PLAN_REASON_MAX - 1);
	plan_set_reason(plan, "%d of %d", 1, 2);
	assert_string_equal(plan->reason, "1 of 2");

	host_init(&pair[0], plan_text(plan, "mx1.example.test"));
	host_init(&pair[1], plan_text(plan, "mx2.example.test"));
	fill(why, sizeof(why) - 1, 5);
	host_set_family_why(plan, &pair[0], 1, why);
	assert_int_equal(strlen(pair[0].family_why[1]), HOST_WHY_MAX - 1);
	assert_string_equal(pair[0].family_why[0], "");
	host_set_family_why(plan, &pair[1], 0, "no answer");
	host_add_reason(plan, &pair[1], "reason two");
	/* A host moved by value (the shuffle does it) keeps its text. */
	tmp = pair[0];
	pair[0] = pair[1];
	pair[1] = tmp;
	assert_string_equal(pair[0].name, "mx2.example.test");
	assert_string_equal(pair[0].family_why[0], "no answer");
	assert_string_equal(pair[0].reason, "reason two");
	assert_string_equal(pair[1].name, "mx1.example.test");
	assert_memory_equal(pair[1].family_why[1], why, HOST_WHY_MAX - 1);
	mx_plan_free(plan);
}

/*
 * Blocks and strings mixed, in a store that starts in a buffer of its
 * owner's (on the stack: freeing it would be an ASan error): every block
 * aligned, none overlapping another or a string, all intact at the end,
 * and the buffer left alone by text_store_free.
 */
static void
test_alloc(void **state)
{
	static unsigned char *blocks[MANY];
	static const char *strings[MANY];
	_Alignas(16) unsigned char buf[400];
	struct text_store s;
	char text[64];

	(void)state;
	text_store_init(&s, buf, sizeof(buf));
	assert_null(text_alloc(&s, 0));
	for (unsigned i = 0; i < MANY; i++) {
		size_t size = 1 + (i * 53u) % (i % 50 == 0 ? 2000 : 200);
		blocks[i] = text_alloc(&s, size);
		assert_non_null(blocks[i]);
		assert_int_equal((uintptr_t)blocks[i] % 8, 0);
		memset(blocks[i], (int)(i & 0xff), size);
		fill(text, 1 + i % 40, i);
		strings[i] = text_copy(&s, text);
		assert_non_null(strings[i]);
		if (i == 0) /* the first ones go into the owner's buffer */
			assert_true(blocks[0] > buf && blocks[0] < buf + sizeof(buf));
	}
	for (unsigned i = 0; i < MANY; i++) {
		size_t size = 1 + (i * 53u) % (i % 50 == 0 ? 2000 : 200);
		for (size_t k = 0; k < size; k++)
			if (blocks[i][k] != (unsigned char)(i & 0xff))
				fail_msg("block %u overwritten at %zu", i, k);
		fill(text, 1 + i % 40, i);
		assert_string_equal(strings[i], text);
	}
	text_store_free(&s);
	assert_null(s.head);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_alloc),
		cmocka_unit_test(test_stable),
		cmocka_unit_test(test_add_len),
		cmocka_unit_test(test_printf),
		cmocka_unit_test(test_host_reason),
		cmocka_unit_test(test_plan_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
