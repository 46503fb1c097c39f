/*
 * Part (a) of the example: a user of another domain, by handle.
 */
#ifndef EXAMPLE_LOOKUP_H
#define EXAMPLE_LOOKUP_H

#include "options.h"

/* who: HANDLE@DOMAIN. Prints the profile; returns 0 found, 1 not found,
 * 2 bad arguments, 3 the call failed (the code and message said). */
int example_lookup(const example_opts *o, const char *who);

#endif
