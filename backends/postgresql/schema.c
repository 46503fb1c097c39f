/*
 * The PostgreSQL schema as migrations: migration N brings a database from
 * schema version N-1 to N (db.c applies them at open, under an advisory
 * lock, and records the version in schema_version). Never edit a released
 * migration; append a new one.
 *
 * It mirrors the SQLite schema (backends/sqlite/schema.c) at its newest
 * version. Text is compared and sorted byte-wise (COLLATE "C"), as SQLite
 * does, whatever the database's locale: the store's stated orders do not
 * depend on it. Ids of clients are 64-bit unsigned numbers kept as the
 * bits of a bigint.
 */
#include "backends/postgresql/pg.h"

#define T "text COLLATE \"C\" NOT NULL"

const char *const pg_migrations[] = {
    /* 1: everything the store interface keeps */
    "CREATE TABLE users ("
    "  id         " T " PRIMARY KEY,"
    "  handle     text COLLATE \"C\" UNIQUE," /* NULL once deleted */
    "  name       " T ","
    "  deleted    boolean NOT NULL DEFAULT false,"
    "  created_ms bigint NOT NULL"
    ");"
    "CREATE TABLE clients ("
    "  user_id    " T ","
    "  id         bigint NOT NULL,"
    "  class      integer NOT NULL,"
    "  created_ms bigint NOT NULL,"
    "  next_event bigint NOT NULL DEFAULT 1," /* next inbox event id */
    "  PRIMARY KEY (user_id, id)"
    ");"
    "CREATE TABLE prekeys ("
    "  user_id " T ","
    "  client  bigint NOT NULL,"
    "  id      integer NOT NULL," /* 0..65534 one-time, 65535 last resort */
    "  key     bytea NOT NULL,"
    "  PRIMARY KEY (user_id, client, id)"
    ");"
    "CREATE TABLE connections ("
    "  from_id    " T ","
    "  to_domain  " T ","
    "  to_id      " T ","
    "  relation   integer NOT NULL,"
    "  updated_ms bigint NOT NULL,"
    "  PRIMARY KEY (from_id, to_domain, to_id)"
    ");"
    "CREATE INDEX connections_to ON connections (to_domain, to_id);"
    "CREATE TABLE conversations ("
    "  domain         " T ","
    "  id             " T ","
    "  name           " T ","
    "  creator_domain " T ","
    "  creator_id     " T ","
    "  created_ms     bigint NOT NULL,"
    "  version        bigint NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (domain, id)"
    ");"
    "CREATE TABLE members ("
    "  conv_domain " T ","
    "  conv_id     " T ","
    "  user_domain " T ","
    "  user_id     " T ","
    "  role        integer NOT NULL,"
    "  PRIMARY KEY (conv_domain, conv_id, user_domain, user_id)"
    ");"
    "CREATE INDEX members_user ON members (user_domain, user_id);"
    "CREATE TABLE inbox ("
    "  user_id " T ","
    "  client  bigint NOT NULL,"
    "  id      bigint NOT NULL,"
    "  event   bytea NOT NULL,"
    "  PRIMARY KEY (user_id, client, id)"
    ");"
    /* state: 0 pending, 1 moved aside, 2 dropped (item emptied). */
    "CREATE TABLE outbox ("
    "  seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "  destination " T ","
    "  item        bytea NOT NULL,"
    "  created_ms  bigint NOT NULL,"
    "  state       smallint NOT NULL DEFAULT 0,"
    "  reason      text NOT NULL DEFAULT '',"
    "  moved_ms    bigint NOT NULL DEFAULT 0"
    ");"
    "CREATE INDEX outbox_queue ON outbox (destination, state, seq);"
    /* Per destination: back-off and the delivery lease. */
    "CREATE TABLE delivery_state ("
    "  destination     " T " PRIMARY KEY,"
    "  failures        integer NOT NULL DEFAULT 0,"
    "  next_attempt_ms bigint NOT NULL DEFAULT 0,"
    "  last_error      text NOT NULL DEFAULT '',"
    "  lease_owner     text COLLATE \"C\" NOT NULL DEFAULT '',"
    "  lease_until_ms  bigint NOT NULL DEFAULT 0"
    ");"
    "CREATE TABLE received_requests ("
    "  origin      " T ","
    "  id          bytea NOT NULL,"
    "  received_ms bigint NOT NULL,"
    "  result      bytea,"
    "  PRIMARY KEY (origin, id)"
    ");"
    "CREATE INDEX received_requests_ms ON received_requests (received_ms);"
    "CREATE TABLE sent_messages ("
    "  seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "  sender      " T ","
    "  message_id  bytea NOT NULL,"
    "  conv_domain " T ","
    "  conv_id     " T ","
    "  sent_ms     bigint NOT NULL,"
    "  record      bytea NOT NULL,"
    "  UNIQUE (sender, message_id)"
    ");"
    "CREATE INDEX sent_messages_ms ON sent_messages (sent_ms);",
};

const int pg_n_migrations =
    (int) (sizeof(pg_migrations) / sizeof(pg_migrations[0]));
