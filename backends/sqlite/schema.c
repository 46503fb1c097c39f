/*
 * The SQLite schema as migrations: migration N brings a database from
 * schema version N-1 to N (db.c applies them and records the version in
 * schema_version). Never edit a released migration; append a new one.
 */
#include "backends/sqlite/sq.h"

const char *const sq_migrations[] = {
    /* 1: users, clients, prekeys, connections, conversations, inboxes */
    "CREATE TABLE users ("
    "  id         TEXT PRIMARY KEY," /* lower-case UUID */
    "  handle     TEXT UNIQUE,"      /* NULL once deleted */
    "  name       TEXT NOT NULL,"
    "  deleted    INTEGER NOT NULL DEFAULT 0,"
    "  created_ms INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE TABLE clients ("
    "  user_id    TEXT NOT NULL,"
    "  id         INTEGER NOT NULL," /* uint64 stored as its bits */
    "  class      INTEGER NOT NULL,"
    "  created_ms INTEGER NOT NULL,"
    "  next_event INTEGER NOT NULL DEFAULT 1," /* next inbox event id */
    "  PRIMARY KEY (user_id, id)"
    ") WITHOUT ROWID;"
    "CREATE TABLE prekeys ("
    "  user_id TEXT NOT NULL,"
    "  client  INTEGER NOT NULL,"
    "  id      INTEGER NOT NULL," /* 0..65534 one-time, 65535 last resort */
    "  key     BLOB NOT NULL,"
    "  PRIMARY KEY (user_id, client, id)"
    ") WITHOUT ROWID;"
    /* One side of a connection: the local user from_id's. */
    "CREATE TABLE connections ("
    "  from_id    TEXT NOT NULL,"
    "  to_domain  TEXT NOT NULL,"
    "  to_id      TEXT NOT NULL,"
    "  relation   INTEGER NOT NULL," /* fedrpc.local.v1.Relation */
    "  updated_ms INTEGER NOT NULL,"
    "  PRIMARY KEY (from_id, to_domain, to_id)"
    ") WITHOUT ROWID;"
    "CREATE INDEX connections_to ON connections (to_domain, to_id);"
    /* Conversations we own (domain = ours) and copies of remote ones. */
    "CREATE TABLE conversations ("
    "  domain         TEXT NOT NULL,"
    "  id             TEXT NOT NULL,"
    "  name           TEXT NOT NULL,"
    "  creator_domain TEXT NOT NULL,"
    "  creator_id     TEXT NOT NULL,"
    "  created_ms     INTEGER NOT NULL,"
    "  PRIMARY KEY (domain, id)"
    ") WITHOUT ROWID;"
    "CREATE TABLE members ("
    "  conv_domain TEXT NOT NULL,"
    "  conv_id     TEXT NOT NULL,"
    "  user_domain TEXT NOT NULL,"
    "  user_id     TEXT NOT NULL,"
    "  role        INTEGER NOT NULL," /* ConversationRole */
    "  PRIMARY KEY (conv_domain, conv_id, user_domain, user_id)"
    ") WITHOUT ROWID;"
    "CREATE INDEX members_user ON members (user_domain, user_id);"
    /* Per-client events, opaque here (the service stores a packed
     * fedrpc.local.v1.Event without its id). */
    "CREATE TABLE inbox ("
    "  user_id TEXT NOT NULL,"
    "  client  INTEGER NOT NULL,"
    "  id      INTEGER NOT NULL,"
    "  event   BLOB NOT NULL,"
    "  PRIMARY KEY (user_id, client, id)"
    ") WITHOUT ROWID;",
    /* 2: the outbox of what is owed to other domains, and the request
     * ids received from them */
    "CREATE TABLE outbox ("
    "  seq         INTEGER PRIMARY KEY AUTOINCREMENT," /* never reused */
    "  destination TEXT NOT NULL,"                     /* a domain */
    "  item        BLOB NOT NULL,"                     /* opaque */
    "  created_ms  INTEGER NOT NULL,"
    "  aside       INTEGER NOT NULL DEFAULT 0,"        /* moved aside */
    "  reason      TEXT NOT NULL DEFAULT '',"
    "  moved_ms    INTEGER NOT NULL DEFAULT 0"
    ");"
    "CREATE INDEX outbox_queue ON outbox (destination, aside, seq);"
    "CREATE TABLE received_requests ("
    "  origin      TEXT NOT NULL,"
    "  id          BLOB NOT NULL,"
    "  received_ms INTEGER NOT NULL,"
    "  PRIMARY KEY (origin, id)"
    ") WITHOUT ROWID;"
    "CREATE INDEX received_requests_ms ON received_requests (received_ms);",
    /* 3: delivery: conversation versions, the answer kept with a
     * received request id, per-destination delivery state (back-off and
     * lease), and the messages local users sent. outbox.aside now reads
     * as the item's state: 0 pending, 1 aside, 2 dropped (data emptied). */
    "ALTER TABLE conversations ADD COLUMN version INTEGER NOT NULL "
    "DEFAULT 0;"
    "ALTER TABLE received_requests ADD COLUMN result BLOB;"
    "CREATE TABLE delivery_state ("
    "  destination     TEXT PRIMARY KEY,"
    "  failures        INTEGER NOT NULL DEFAULT 0,"
    "  next_attempt_ms INTEGER NOT NULL DEFAULT 0,"
    "  last_error      TEXT NOT NULL DEFAULT '',"
    "  lease_owner     TEXT NOT NULL DEFAULT '',"
    "  lease_until_ms  INTEGER NOT NULL DEFAULT 0"
    ") WITHOUT ROWID;"
    "CREATE TABLE sent_messages ("
    "  seq         INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  sender      TEXT NOT NULL,"
    "  message_id  BLOB NOT NULL,"
    "  conv_domain TEXT NOT NULL,"
    "  conv_id     TEXT NOT NULL,"
    "  sent_ms     INTEGER NOT NULL,"
    "  record      BLOB NOT NULL,"
    "  UNIQUE (sender, message_id)"
    ");"
    "CREATE INDEX sent_messages_ms ON sent_messages (sent_ms);",
};

const int sq_n_migrations =
    (int) (sizeof(sq_migrations) / sizeof(sq_migrations[0]));
