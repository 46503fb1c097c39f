/*
 * Name conversions: the ones protoc-c uses for message types and
 * descriptors (which generated code must reproduce exactly), and our own
 * snake_case for stub names. Every function returns a malloc'd string the
 * caller frees, or NULL when out of memory.
 */
#ifndef FEDRPC_GEN_NAMES_H
#define FEDRPC_GEN_NAMES_H

#include <stdbool.h>

/* protoc-c's ToCamel: "in_ner" -> "InNer", "lower_case_msg" -> "LowerCaseMsg". */
char *names_pbc_camel(const char *s);

/* protoc-c's CamelToLower: "HealthCheck" -> "health_check", "HTTPThing" ->
 * "httpthing" (an underscore only where lower case turns upper). */
char *names_pbc_camel_to_lower(const char *s);

/* protoc-c's FullNameToC: "a.b_c.Foo.In_ner" -> "A__BC__Foo__InNer". */
char *names_pbc_full_to_c(const char *full_name);

/* protoc-c's FullNameToLower: "a.b.HealthCheck" -> "a__b__health_check". */
char *names_pbc_full_to_lower(const char *full_name);

/*
 * Our snake_case, aware of acronyms and digits: "GetUserByHandle" ->
 * "get_user_by_handle", "HTTPThing" -> "http_thing", "V1Beta" -> "v1_beta".
 * Never two underscores in a row, none at either end.
 */
char *names_snake(const char *s);

/* A dotted package "a.bC.v1" in snake_case joined by '_': "a_b_c_v1". */
char *names_package_snake(const char *package);

/* ASCII upper case. */
char *names_upper(const char *s);

/* "dir/name.proto" -> "dir/name" (as protoc-c strips .proto/.protodevel). */
char *names_strip_proto(const char *file);

/* An include guard for "dir/name": "FEDRPC_GEN_DIR_NAME_FEDRPC_H". */
char *names_guard(const char *base);

/* True for C keywords (C11 and the common C++ ones), which cannot name a
 * struct field. */
bool names_is_keyword(const char *s);

#endif
