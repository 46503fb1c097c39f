/*
 * Part (b) of the example: serves the Notes service and calls it.
 */
#ifndef EXAMPLE_NOTES_DEMO_H
#define EXAMPLE_NOTES_DEMO_H

#include "options.h"

/* Serves Notes for o->origin on 127.0.0.1, calls it as o->origin would
 * from another backend, and checks every answer. 0 when all were as
 * expected, 1 otherwise (said why). */
int example_notes(const example_opts *o);

#endif
