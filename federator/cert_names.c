/*
 * --check-config: is our certificate valid for our domain? Peers accept
 * a certificate for a.example when it names a.example (or a wildcard
 * covering it), or the host a.example's SRV records point to (origin
 * authentication, docs/federation-api.md). A name under the domain
 * (fed.a.example) is taken on trust; any other name needs the SRV answer,
 * which is looked up as the daemon would.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fedrpc/discovery.h>
#include <fedrpc/pki.h>

#include "core/base/dns_name.h"
#include "federator/federator.h"

/* name covers domain by itself: equal, a wildcard of its parent, or a
 * host under it. */
static bool
names_domain(const char *name, const char *domain)
{
	const char *dot = strchr(domain, '.');
	size_t      n = strlen(name), d = strlen(domain);

	if (dns_name_equal(name, domain))
		return true;
	if (name[0] == '*' && name[1] == '.' && dot != NULL &&
	    dns_name_equal(name + 2, dot + 1))
		return true;
	return n > d + 1 && name[n - d - 1] == '.' &&
	    dns_name_equal(name + n - d, domain);
}

/* The certificate's names, joined by ", ". */
static void
names_text(const fedrpc_pki_cert_info *ci, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < ci->n_dns_names && off < len; i++) {
		int k = snprintf(buf + off, len - off, "%s%s", i ? ", " : "",
		    ci->dns_names[i]);

		if (k < 0)
			break;
		off += (size_t) k;
	}
	if (ci->n_dns_names == 0)
		snprintf(buf, len, "no DNS names (CN %s)",
		    ci->subject_cn[0] ? ci->subject_cn : "none");
}

/* Whether one of the certificate's names is a target of our SRV
 * records; st says why not when they cannot be looked up. */
static bool
names_srv_target(const fedrpc_config *cfg, const fedrpc_pki_cert_info *ci,
    char *targets, size_t len, fedrpc_status *st)
{
	fedrpc_resolver_opts o = {0};
	fedrpc_resolver     *r;
	fedrpc_srv_answer   *a = NULL;
	fedrpc_static_route *routes;
	bool                 found = false;
	size_t               off   = 0;
	fedrpc_code          rc;

	targets[0] = '\0';
	if ((routes = calloc(cfg->discovery.n_statics + 1, sizeof(*routes))) ==
	    NULL) {
		fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED, "out of memory");
		return false;
	}
	for (size_t i = 0; i < cfg->discovery.n_statics; i++) {
		routes[i].domain = cfg->discovery.statics[i].domain;
		routes[i].host   = cfg->discovery.statics[i].host;
		routes[i].port   = cfg->discovery.statics[i].port;
	}
	o.statics        = routes;
	o.n_statics      = cfg->discovery.n_statics;
	o.nameserver     = cfg->discovery.nameserver;
	o.service        = cfg->discovery.service;
	o.timeout_ms     = cfg->discovery.timeout_ms;
	o.negative_ttl_s = cfg->discovery.negative_ttl;
	rc = fedrpc_resolver_new(&r, &o, st);
	free(routes);
	if (rc != FEDRPC_OK)
		return false;
	if (fedrpc_resolver_lookup(r, cfg->domain, 0, &a, st) == FEDRPC_OK) {
		for (size_t i = 0; i < ci->n_dns_names; i++)
			found = found ||
			    fedrpc_srv_answer_has_target(a, ci->dns_names[i]);
		for (size_t i = 0; i < a->n_targets && off < len; i++) {
			int k = snprintf(targets + off, len - off, "%s%s",
			    i ? ", " : "", a->targets[i].host);

			if (k < 0)
				break;
			off += (size_t) k;
		}
		fedrpc_srv_answer_free(a);
	}
	fedrpc_resolver_free(r);
	return found;
}

fedrpc_code
federator_check_cert_names(const fedrpc_config *cfg, fedrpc_status *st)
{
	fedrpc_pki_cert_info ci = {0};
	char                 names[512], targets[512];
	fedrpc_status        dns = {0};

	if (fedrpc_pki_info(cfg->tls.cert, &ci, st) != FEDRPC_OK)
		return st->code;
	for (size_t i = 0; i < ci.n_dns_names; i++)
		if (names_domain(ci.dns_names[i], cfg->domain)) {
			fedrpc_pki_info_clear(&ci);
			return FEDRPC_OK;
		}
	names_text(&ci, names, sizeof(names));
	if (names_srv_target(cfg, &ci, targets, sizeof(targets), &dns)) {
		fedrpc_pki_info_clear(&ci);
		return FEDRPC_OK;
	}
	fedrpc_pki_info_clear(&ci);
	if (targets[0] != '\0')
		return fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
		    "certificate %s is not valid for domain %s: it names %s, "
		    "neither %s nor the target of its SRV records (%s), so "
		    "peers would refuse it",
		    cfg->tls.cert, cfg->domain, names, cfg->domain, targets);
	return fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
	    "certificate %s is not valid for domain %s: it names %s, neither "
	    "%s nor a host under it (its SRV records, whose target it could "
	    "name: %s)",
	    cfg->tls.cert, cfg->domain, names, cfg->domain, dns.message);
}
