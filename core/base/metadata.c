/*
 * Call metadata lookups. Metadata lists are short (a handful of entries),
 * so a linear scan beats any index.
 */
#include <string.h>

#include <fedrpc/metadata.h>

const uint8_t *
fedrpc_metadata_get(const fedrpc_metadata *md, const char *key, size_t *len)
{
	if (md == NULL || key == NULL)
		return NULL;
	for (size_t i = 0; i < md->n; i++) {
		const fedrpc_metadata_entry *e = &md->entries[i];

		if (strcmp(e->key, key) == 0) {
			if (len != NULL)
				*len = e->value_len;
			/* A present but empty value is not NULL. */
			return e->value != NULL ? e->value
						: (const uint8_t *) "";
		}
	}
	return NULL;
}
