/* The fedrpc public API in one include. */
#ifndef FEDRPC_H
#define FEDRPC_H

#include <fedrpc/channel.h>
#include <fedrpc/conn.h>
#include <fedrpc/metadata.h>
#include <fedrpc/method.h>
#include <fedrpc/server.h>
#include <fedrpc/status.h>
#include <fedrpc/tls.h>

#endif
