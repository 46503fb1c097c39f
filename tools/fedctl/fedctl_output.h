/*
 * How fedctl's user commands show things: every user and conversation with
 * its qualified id (uuid@domain), a "[federated: DOMAIN]" marker on those
 * of other domains (coloured on a terminal unless NO_COLOR is set), and the
 * same as JSON objects built with jansson for --json.
 */
#ifndef FEDCTL_OUTPUT_H
#define FEDCTL_OUTPUT_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "fedrpc/local/v1/connections.pb-c.h"
#include "fedrpc/local/v1/users.pb-c.h"

#include "fedctl_local.h"

/* Whether to colour what goes to f: a terminal, and NO_COLOR unset. */
bool fedctl_color_for(FILE *f);

/* Whether an id is of another domain than ours (unknown ours: false). */
bool fedctl_is_remote(const fedctl_session *s, const char *domain);

/* "  [federated: b.example]" for another domain's id; nothing for ours. */
void fedctl_print_marker(const fedctl_session *s, FILE *f, const char *domain);

/* "uuid@domain". */
void fedctl_print_qid(FILE *f, const fedctl_pb_qid *q);

/*
 * A user on one line: "@handle  Name  uuid@domain  [federated: ...]".
 * p may be NULL (only the id is known).
 */
void fedctl_print_user(const fedctl_session *s, FILE *f,
    const fedctl_pb_qid *id, const fedctl_pb_profile *p);

/*
 * A conversation: "uuid@domain  "name"  N members  [federated: ...]" and,
 * with members, one line per member (names from profiles, may be NULL).
 */
void fedctl_print_conv(const fedctl_session *s, FILE *f,
    const fedctl_pb_conv *c, bool members,
    const Fedrpc__Local__V1__GetProfilesResponse *profiles);

/* Text from another user, with control characters made visible. */
void fedctl_print_text(FILE *f, const char *text, size_t n);
/* o[key] = text: a JSON string when text is UTF-8, else its bytes in
 * base64 and o[key + "_base64"] = true. */
void fedctl_json_set_text(json_t *o, const char *key, const char *text,
    size_t n);

/* Names of enum values as users read them. */
const char *fedctl_relation_name(int relation);
const char *fedctl_role_name(int role);
const char *fedctl_class_name(int client_class);
/* The enum value of a class name ("phone", ...), or -1. */
int fedctl_class_parse(const char *name);

/* {"id", "domain", "qualified_id", "federated"}. */
json_t *fedctl_json_qid(const fedctl_session *s, const fedctl_pb_qid *q);
/* The qid's fields plus "handle", "name", "deleted" from p (may be NULL). */
json_t *fedctl_json_user(const fedctl_session *s, const fedctl_pb_qid *id,
    const fedctl_pb_profile *p);
/* A conversation with its creator, members (and their roles). */
json_t *fedctl_json_conv(const fedctl_session *s, const fedctl_pb_conv *c,
    const Fedrpc__Local__V1__GetProfilesResponse *profiles);
/* A connection from its owner's side. */
json_t *fedctl_json_connection(const fedctl_session *s,
    const Fedrpc__Local__V1__Connection *c, const fedctl_pb_profile *other);
/* An array of strings. */
json_t *fedctl_json_strings(char *const *v, size_t n);

/* Prints root to stdout (indented, in insertion order) and frees it. */
void fedctl_json_emit(json_t *root);

#endif
