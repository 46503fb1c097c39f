/*
 * Helpers for store implementations (backends/sqlite, backends/postgresql):
 * memory in the transaction's arena, and the text a user search matches
 * with. Header-only, since the stores link only the shared runtime; both
 * must build the same patterns so that they find the same users.
 */
#ifndef FEDRPC_BACKENDS_REFERENCE_STORE_TEXT_H
#define FEDRPC_BACKENDS_REFERENCE_STORE_TEXT_H

#include <ctype.h>
#include <string.h>

#include "backends/reference/store.h"

/* size zeroed bytes (at least 1) in the transaction's arena, or NULL. */
static inline void *
fedrpc_store_alloc(fedrpc_store_tx *tx, size_t size)
{
	void *p = tx->al->alloc(tx->al->allocator_data, size ? size : 1);

	if (p != NULL)
		memset(p, 0, size ? size : 1);
	return p;
}

/* `lead`, then `term` lower-cased with LIKE's wildcards escaped (by '\'),
 * then "%": a LIKE pattern for names starting with the term. */
static inline char *
fedrpc_store_like_prefix(fedrpc_store_tx *tx, const char *lead,
    const char *term)
{
	size_t n = strlen(term), k, ll = strlen(lead);
	char  *p = fedrpc_store_alloc(tx, ll + 2 * n + 2);

	if (p == NULL)
		return NULL;
	memcpy(p, lead, ll);
	k = ll;
	for (size_t i = 0; i < n; i++) {
		char ch = (char) tolower((unsigned char) term[i]);

		if (ch == '%' || ch == '_' || ch == '\\')
			p[k++] = '\\';
		p[k++] = ch;
	}
	p[k++] = '%';
	p[k]   = '\0';
	return p;
}

/* The term lower-cased (handles are lower case). */
static inline char *
fedrpc_store_lower(fedrpc_store_tx *tx, const char *term)
{
	size_t n = strlen(term);
	char  *p = fedrpc_store_alloc(tx, n + 1);

	if (p != NULL)
		for (size_t i = 0; i < n; i++)
			p[i] = (char) tolower((unsigned char) term[i]);
	return p;
}

#endif
