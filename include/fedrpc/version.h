/*
 * The fedrpc version: the release these headers belong to (compile time)
 * and the release of the library a program runs with (run time). A shared
 * library keeps its interface within one major version (its SOVERSION), so
 * a program may run with a later minor or patch release than it was built
 * with. CMake checks at configure time that these numbers are the
 * project's VERSION.
 */
#ifndef FEDRPC_VERSION_H
#define FEDRPC_VERSION_H

#ifdef __cplusplus
extern "C" {
#endif

#define FEDRPC_VERSION_MAJOR 0
#define FEDRPC_VERSION_MINOR 1
#define FEDRPC_VERSION_PATCH 0
#define FEDRPC_VERSION_STRING "0.1.0"

/* The release of the library linked at run time, e.g. "0.1.0". */
const char *fedrpc_version(void);

#ifdef __cplusplus
}
#endif
#endif
