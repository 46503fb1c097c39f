/*
 * fedrpc-schema-check: fails when the current schemas break a released
 * package of the baseline (proto-baseline/). Both are FileDescriptorSets
 * made by protoc --include_imports --descriptor_set_out; the current one
 * with --include_source_info, so that findings cite lines.
 *
 * usage: fedrpc-schema-check [--released FILE] BASELINE CURRENT
 *   FILE lists the released packages, one a line ('#' comments); without
 *   it every package of the baseline is released.
 * Exit codes: 0 nothing breaks, 1 something breaks, 2 bad arguments or
 * input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"

#define MAX_RELEASED 256

static int
usage(void)
{
	fprintf(stderr,
	    "usage: fedrpc-schema-check [--released FILE] BASELINE CURRENT\n"
	    "  BASELINE, CURRENT: FileDescriptorSets (protoc --include_imports\n"
	    "  --descriptor_set_out); FILE: the released packages, one a line\n");
	return 2;
}

/* Reads the released packages; false on an unreadable file. */
static bool
read_released(const char *path, char **out, size_t *n)
{
	FILE *f = fopen(path, "r");
	char  line[512];

	*n = 0;
	if (f == NULL) {
		fprintf(stderr, "fedrpc-schema-check: cannot read %s\n", path);
		return false;
	}
	while (fgets(line, sizeof(line), f) != NULL && *n < MAX_RELEASED) {
		char *p = line, *e;

		if ((e = strchr(p, '#')) != NULL)
			*e = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		for (e = p + strlen(p); e > p && (e[-1] == '\n' || e[-1] == ' ' ||
		                                     e[-1] == '\t' || e[-1] == '\r');)
			*--e = '\0';
		if (*p != '\0' && (out[(*n)++] = strdup(p)) == NULL)
			break;
	}
	fclose(f);
	return true;
}

/* Every package of the set, when no list says which are released. */
static void
all_packages(const sc_set *s, char **out, size_t *n)
{
	*n = 0;
	for (size_t i = 0; i < s->fds->n_file && *n < MAX_RELEASED; i++) {
		const char *p     = s->fds->file[i]->package;
		bool        known = false;

		if (p == NULL || p[0] == '\0')
			continue;
		for (size_t k = 0; k < *n && !known; k++)
			known = strcmp(out[k], p) == 0;
		if (!known)
			out[(*n)++] = strdup(p);
	}
}

int
main(int argc, char **argv)
{
	const char *released_file = NULL;
	char       *released[MAX_RELEASED];
	size_t      n_released = 0;
	sc_set      base, cur;
	sc_report   r = {0};
	int         argi = 1, rc = 2;

	if (argc > 2 && strcmp(argv[1], "--released") == 0) {
		released_file = argv[2];
		argi          = 3;
	}
	if (argc - argi != 2 || argv[argi][0] == '-')
		return usage();
	if (!sc_set_load(&base, argv[argi]))
		return 2;
	if (!sc_set_load(&cur, argv[argi + 1])) {
		sc_set_free(&base);
		return 2;
	}
	if (released_file != NULL) {
		if (!read_released(released_file, released, &n_released))
			goto out;
	} else {
		all_packages(&base, released, &n_released);
	}
	for (size_t i = 0; i < n_released; i++) {
		if (!sc_set_has_package(&base, released[i])) {
			fprintf(stderr,
			    "fedrpc-schema-check: %s lists package %s, which the "
			    "baseline %s does not hold\n",
			    released_file, released[i], argv[argi]);
			goto out;
		}
	}
	sc_compare(&r, &base, &cur, released, n_released);
	if (r.breaking > 0) {
		fprintf(stderr,
		    "fedrpc-schema-check: %zu breaking change%s to released "
		    "packages. A released package cannot change this way: add "
		    "the change to a new package version (e.g. "
		    "fedrpc.federation.v2) instead; see proto-baseline/README.md\n",
		    r.breaking, r.breaking == 1 ? "" : "s");
		rc = 1;
	} else {
		printf("fedrpc-schema-check: no breaking change to the %zu "
		       "released package%s of %s\n",
		    n_released, n_released == 1 ? "" : "s", argv[argi]);
		rc = 0;
	}
out:
	for (size_t i = 0; i < n_released; i++)
		free(released[i]);
	sc_set_free(&cur);
	sc_set_free(&base);
	return rc;
}
