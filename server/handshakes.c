/* The handshake pool: connections not yet authenticated, grouped by source address, so that
 * admission can be fair between addresses (see hs_pool_victim). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "server-int.h"

struct hs_addr {
	struct peer_key key;
	unsigned count;
	TAILQ_HEAD(, conn) conns;         /* oldest first */
	struct hs_addr *next;             /* bucket chain */
	TAILQ_ENTRY(hs_addr) link;
};

static size_t bucket_of(const struct hs_pool *p, const struct peer_key *k)
{
	const uint8_t *b = (const uint8_t *)k;
	uint64_t h = 14695981039346656037ull;   /* FNV-1a */
	size_t i;

	for (i = 0; i < sizeof(*k); i++)
		h = (h ^ b[i]) * 1099511628211ull;
	return (size_t)(h & (p->nbuckets - 1));
}

int hs_pool_init(struct hs_pool *p, unsigned max)
{
	memset(p, 0, sizeof(*p));
	TAILQ_INIT(&p->addrs);
	p->nbuckets = 16;
	while (p->nbuckets < 2 * (size_t)max && p->nbuckets < (1u << 20))
		p->nbuckets <<= 1;
	/* a table of pointers: NOLINTNEXTLINE(bugprone-sizeof-expression) */
	p->buckets = calloc(p->nbuckets, sizeof(*p->buckets));
	return p->buckets ? 0 : -ENOMEM;
}

void hs_pool_free(struct hs_pool *p)
{
	struct hs_addr *a;

	if (!p)
		return;
	while ((a = TAILQ_FIRST(&p->addrs))) {
		TAILQ_REMOVE(&p->addrs, a, link);
		free(a);
	}
	free(p->buckets);
	p->buckets = NULL;
}

static struct hs_addr *find(const struct hs_pool *p, const struct peer_key *k)
{
	struct hs_addr *a;

	for (a = p->buckets[bucket_of(p, k)]; a; a = a->next)
		if (!memcmp(&a->key, k, sizeof(*k)))
			return a;
	return NULL;
}

unsigned hs_pool_count(const struct hs_pool *p, const struct peer_key *k)
{
	const struct hs_addr *a = find(p, k);

	return a ? a->count : 0;
}

int hs_pool_add(struct hs_pool *p, struct conn *c)
{
	struct hs_addr *a = find(p, &c->peer);
	size_t b;

	if (!a) {
		a = calloc(1, sizeof(*a));
		if (!a)
			return -ENOMEM;
		a->key = c->peer;
		TAILQ_INIT(&a->conns);
		b = bucket_of(p, &a->key);
		a->next = p->buckets[b];
		p->buckets[b] = a;
		TAILQ_INSERT_TAIL(&p->addrs, a, link);
	}
	TAILQ_INSERT_TAIL(&a->conns, c, hs_link);
	a->count++;
	c->hs_addr = a;
	p->n++;
	return 0;
}

void hs_pool_remove(struct hs_pool *p, struct conn *c)
{
	struct hs_addr *a = c->hs_addr, **pp;

	if (!a)
		return;
	TAILQ_REMOVE(&a->conns, c, hs_link);
	c->hs_addr = NULL;
	p->n--;
	if (--a->count)
		return;
	for (pp = &p->buckets[bucket_of(p, &a->key)]; *pp != a; pp = &(*pp)->next)
		;
	*pp = a->next;
	TAILQ_REMOVE(&p->addrs, a, link);
	free(a);
}

/* Max-min fairness: the oldest handshake of the address holding the most places gives its
 * place, provided that address would still hold more than the newcomer's address does. A
 * flood from a few addresses thus cannot push out a real agent from another one (it would
 * need about as many addresses as the pool has places), and under a real herd of single
 * handshakes nobody is pushed out: the newcomer is refused, no handshake work is wasted. */
struct conn *hs_pool_victim(const struct hs_pool *p, unsigned newcomer_count)
{
	const struct hs_addr *a, *max = NULL;

	TAILQ_FOREACH(a, &p->addrs, link)
		if (!max || a->count > max->count)
			max = a;
	if (!max || max->count <= newcomer_count + 1)
		return NULL;
	return TAILQ_FIRST(&max->conns);
}
