/* The collector's handshake pool: counts per source address, and whom a full pool gives up for
 * a newcomer (max-min fairness between addresses). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../../server/server-int.h"

static struct peer_key v4(uint8_t last)
{
	struct peer_key k;

	memset(&k, 0, sizeof(k));
	k.family = AF_INET;
	k.addr[0] = 10;
	k.addr[3] = last;
	return k;
}

static void add(struct hs_pool *p, struct conn *c, uint8_t last)
{
	memset(c, 0, sizeof(*c));
	c->peer = v4(last);
	assert_int_equal(hs_pool_add(p, c), 0);
}

static void test_counts_per_address(void **state)
{
	struct hs_pool p;
	struct conn c[4];
	struct peer_key a = v4(1), b = v4(2), other = v4(3);

	(void)state;
	assert_int_equal(hs_pool_init(&p, 8), 0);
	add(&p, &c[0], 1);
	add(&p, &c[1], 1);
	add(&p, &c[2], 2);
	assert_int_equal(p.n, 3);
	assert_int_equal(hs_pool_count(&p, &a), 2);
	assert_int_equal(hs_pool_count(&p, &b), 1);
	assert_int_equal(hs_pool_count(&p, &other), 0);
	/* The same address bytes in another family are another address. */
	other = v4(1);
	other.family = AF_INET6;
	assert_int_equal(hs_pool_count(&p, &other), 0);
	hs_pool_remove(&p, &c[2]);
	assert_int_equal(hs_pool_count(&p, &b), 0);
	assert_null(c[2].hs_addr);
	hs_pool_remove(&p, &c[2]);        /* not in the pool: nothing happens */
	assert_int_equal(p.n, 2);
	add(&p, &c[2], 2);
	assert_int_equal(hs_pool_count(&p, &b), 1);
	hs_pool_free(&p);
	hs_pool_free(NULL);
}

static void test_victim_is_oldest_of_heaviest(void **state)
{
	struct hs_pool p;
	struct conn c[5];

	(void)state;
	assert_int_equal(hs_pool_init(&p, 5), 0);
	add(&p, &c[0], 2);
	add(&p, &c[1], 1);      /* address 1: the oldest of three */
	add(&p, &c[2], 1);
	add(&p, &c[3], 1);
	add(&p, &c[4], 3);
	/* A newcomer from a fourth address, or from 2 or 3 (one place each): 1 gives way. */
	assert_ptr_equal(hs_pool_victim(&p, 0), &c[1]);
	assert_ptr_equal(hs_pool_victim(&p, 1), &c[1]);
	/* From address 1 itself, or from one holding two: nobody would gain, refused. */
	assert_null(hs_pool_victim(&p, 2));
	assert_null(hs_pool_victim(&p, 3));
	hs_pool_remove(&p, &c[1]);
	assert_ptr_equal(hs_pool_victim(&p, 0), &c[2]);
	hs_pool_free(&p);
}

static void test_herd_of_single_handshakes_refuses(void **state)
{
	struct hs_pool p;
	struct conn c[200];
	unsigned i;

	(void)state;
	/* More addresses than buckets: chains of several. */
	assert_int_equal(hs_pool_init(&p, 4), 0);
	for (i = 0; i < 200; i++)
		add(&p, &c[i], (uint8_t)i);
	assert_int_equal(p.n, 200);
	assert_null(hs_pool_victim(&p, 0));
	for (i = 0; i < 200; i++) {
		struct peer_key k = v4((uint8_t)i);

		assert_int_equal(hs_pool_count(&p, &k), 1);
	}
	for (i = 0; i < 200; i += 2)
		hs_pool_remove(&p, &c[i]);
	assert_int_equal(p.n, 100);
	for (i = 0; i < 200; i++) {
		struct peer_key k = v4((uint8_t)i);

		assert_int_equal(hs_pool_count(&p, &k), i % 2);
	}
	hs_pool_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts_per_address),
		cmocka_unit_test(test_victim_is_oldest_of_heaviest),
		cmocka_unit_test(test_herd_of_single_handshakes_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
