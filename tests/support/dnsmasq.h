/*
 * A real DNS server for tests: dnsmasq on 127.0.0.1:<free port>, serving
 * only the records a test gives it, reading no system configuration and
 * forwarding nothing. Names under example (and any other zone a test marks
 * --local) that it does not know get NXDOMAIN; other names get REFUSED.
 *
 *     const char *recs[] = {
 *         "--srv-host=_fedrpc._tcp.b.example,fed.b.example,7443,10,100",
 *         "--host-record=fed.b.example,127.0.0.1,::1",
 *         NULL};
 *     dnsmasq *d = dnsmasq_start(recs);
 *     ... nameserver dnsmasq_nameserver(d), e.g. "127.0.0.1:40213" ...
 *     dnsmasq_stop(d);
 *
 * Records are dnsmasq options (see dnsmasq(8)): --srv-host=name,target,
 * port,priority,weight (name alone: "service not available"),
 * --host-record=name,addr[,addr6], --local=/zone/, --local-ttl=seconds
 * (default here 60; dnsmasq's own default, 0, would defeat caching),
 * --listen-address=::1 to also answer on IPv6 loopback.
 */
#ifndef FEDRPC_TEST_DNSMASQ_H
#define FEDRPC_TEST_DNSMASQ_H

#include <stdbool.h>

typedef struct dnsmasq dnsmasq;

/* Starts dnsmasq with these options (NULL-terminated; NULL for none) and
 * waits until it answers. NULL on failure, with the reason and dnsmasq's
 * log on stderr. */
dnsmasq *dnsmasq_start(const char *const *records);

/* The UDP (and TCP) port it listens on. */
int dnsmasq_port(const dnsmasq *d);

/* "127.0.0.1:<port>", for fedrpc_resolver_opts.nameserver. */
const char *dnsmasq_nameserver(const dnsmasq *d);

/* Restarts it on the same port with new records (dnsmasq does not reload
 * --srv-host or --host-record on SIGHUP). False if it did not come back. */
bool dnsmasq_restart_with(dnsmasq *d, const char *const *records);

/* Stops the process but keeps the handle (and port) for a restart: a
 * "DNS server down" for tests. */
void dnsmasq_halt(dnsmasq *d);

/* Stops it (if running) and frees the handle; NULL is fine. */
void dnsmasq_stop(dnsmasq *d);

#endif
