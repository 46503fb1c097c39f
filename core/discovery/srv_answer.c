/*
 * Discovery answers as objects: copy, free, "is this name a target", and
 * the dial URL of a target's address. Answers are plain deep copies, so a
 * holder never races the resolver's cache.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fedrpc/discovery.h>

#include "core/base/dns_name.h"

static void
target_clear(fedrpc_srv_target *t)
{
	free(t->host);
	for (size_t i = 0; i < t->n_addrs; i++)
		free(t->addrs[i]);
	free(t->addrs);
}

void
fedrpc_srv_answer_free(fedrpc_srv_answer *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < a->n_targets; i++)
		target_clear(&a->targets[i]);
	free(a->targets);
	free(a->domain);
	free(a->qname);
	free(a);
}

static bool
target_copy(fedrpc_srv_target *dst, const fedrpc_srv_target *src)
{
	*dst         = *src;
	dst->addrs   = NULL;
	dst->n_addrs = 0;
	dst->host    = strdup(src->host != NULL ? src->host : "");
	if (dst->host == NULL)
		return false;
	if (src->n_addrs == 0)
		return true;
	if ((dst->addrs = calloc(src->n_addrs, sizeof(char *))) == NULL)
		return false;
	for (size_t i = 0; i < src->n_addrs; i++) {
		if ((dst->addrs[i] = strdup(src->addrs[i])) == NULL)
			return false;
		dst->n_addrs++;
	}
	return true;
}

fedrpc_srv_answer *
fedrpc_srv_answer_dup(const fedrpc_srv_answer *a)
{
	fedrpc_srv_answer *c;

	if (a == NULL || (c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->ttl        = a->ttl;
	c->from_cache = a->from_cache;
	c->is_static  = a->is_static;
	c->domain     = strdup(a->domain != NULL ? a->domain : "");
	c->qname      = strdup(a->qname != NULL ? a->qname : "");
	if (c->domain == NULL || c->qname == NULL)
		goto fail;
	if (a->n_targets > 0 &&
	    (c->targets = calloc(a->n_targets, sizeof(*c->targets))) == NULL)
		goto fail;
	for (size_t i = 0; i < a->n_targets; i++) {
		/* Count the target before copying so a failed copy is freed. */
		c->n_targets++;
		if (!target_copy(&c->targets[i], &a->targets[i]))
			goto fail;
	}
	return c;
fail:
	fedrpc_srv_answer_free(c);
	return NULL;
}

bool
fedrpc_srv_answer_has_target(const fedrpc_srv_answer *a, const char *name)
{
	if (a == NULL || name == NULL)
		return false;
	for (size_t i = 0; i < a->n_targets; i++)
		if (dns_name_equal(a->targets[i].host, name))
			return true;
	return false;
}

int
fedrpc_srv_target_url(const fedrpc_srv_target *t, size_t addr_index,
    const char *scheme, char *buf, size_t len)
{
	const char *addr;
	bool        v6;

	if (t == NULL || addr_index >= t->n_addrs)
		return -1;
	addr = t->addrs[addr_index];
	v6   = strchr(addr, ':') != NULL;
	return snprintf(buf, len, "%s://%s%s%s:%u",
	    scheme != NULL ? scheme : "tls+tcp", v6 ? "[" : "", addr,
	    v6 ? "]" : "", (unsigned) t->port);
}
