/*
 * Using a loaded configuration: the allow-list questions the server and
 * the channels ask, TLS options, printing the effective configuration
 * (federator --check-config), and freeing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/base/dns_name.h"
#include "core/config/config_int.h"

void
fedrpc_config_free(fedrpc_config *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->source);
	free(cfg->base_dir);
	free(cfg->domain);
	for (size_t i = 0; i < cfg->federation.n_allow; i++)
		free(cfg->federation.allow[i].domain);
	free(cfg->federation.allow);
	free(cfg->listen);
	free(cfg->local_api);
	free(cfg->tls.ca);
	free(cfg->tls.cert);
	free(cfg->tls.key);
	free(cfg->tls.crl);
	free(cfg->discovery.nameserver);
	free(cfg->discovery.service);
	for (size_t i = 0; i < cfg->discovery.n_statics; i++) {
		free(cfg->discovery.statics[i].domain);
		free(cfg->discovery.statics[i].host);
	}
	free(cfg->discovery.statics);
	free(cfg->storage.path);
	free(cfg->storage.conninfo);
	free(cfg->storage.module);
	free(cfg->delivery.instance);
	free(cfg->web.listen);
	free(cfg->web.root);
	free(cfg->web.passwords);
	free(cfg->web.sessions);
	free(cfg->web.tls_cert);
	free(cfg->web.tls_key);
	free(cfg->log.file);
	free(cfg->metrics.listen);
	free(cfg->api.versions);
	free(cfg);
}

/* A domain as the config keeps them (lower case, final dot dropped)
 * into buf (DNS_NAME_MAX bytes); false when it is not a valid domain. */
static bool
normalise(const char *domain, char *buf)
{
	return dns_domain_check(domain, buf, NULL, 0);
}

/* The allow-list entry for a normalised domain (any case), or NULL. */
static const fedrpc_config_allow *
allow_entry(const fedrpc_config *cfg, const char *domain)
{
	for (size_t i = 0; i < cfg->federation.n_allow; i++)
		if (strcasecmp(cfg->federation.allow[i].domain, domain) == 0)
			return &cfg->federation.allow[i];
	return NULL;
}

/* Whether a normalised domain is allowed. */
static bool
allowed(const fedrpc_config *cfg, const char *domain)
{
	if (!cfg->federation.enabled)
		return false;
	switch (cfg->federation.strategy) {
	case FEDRPC_STRATEGY_ALLOW_ALL:
		return true;
	case FEDRPC_STRATEGY_ALLOW_LIST:
		return allow_entry(cfg, domain) != NULL;
	default:
		return false;
	}
}

bool
fedrpc_config_domain_allowed(const fedrpc_config *cfg, const char *domain)
{
	char name[DNS_NAME_MAX];

	return cfg != NULL && normalise(domain, name) && allowed(cfg, name);
}

fedrpc_search_policy
fedrpc_config_search_policy_for(const fedrpc_config *cfg, const char *domain)
{
	const fedrpc_config_allow *e;
	char                       name[DNS_NAME_MAX];

	if (cfg == NULL || !normalise(domain, name) || !allowed(cfg, name))
		return FEDRPC_SEARCH_NONE;
	if ((e = allow_entry(cfg, name)) != NULL)
		return e->search_policy;
	return cfg->federation.default_search_policy;
}

void
fedrpc_config_tls_opts(const fedrpc_config *cfg, fedrpc_tls_opts *out)
{
	memset(out, 0, sizeof(*out));
	out->ca_file     = cfg->tls.ca;
	out->cert_file   = cfg->tls.cert;
	out->key_file    = cfg->tls.key;
	out->crl_file    = cfg->tls.crl;
	out->min_version = cfg->tls.min_version;
	out->max_version = FEDRPC_TLS_1_3;
}

/* ---- printing, walking the schema so every setting appears ---- */

static const void *
cslot(const void *base, size_t offset)
{
	return (const char *) base + offset;
}

/* A libconfig string literal. */
static void
print_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s != NULL && *s != '\0'; s++) {
		unsigned char c = (unsigned char) *s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* The shortest text that reads back as the same double, always with a
 * decimal point so that libconfig reads it as a float. */
static void
print_double(FILE *f, double v)
{
	char buf[40];

	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	if (strpbrk(buf, ".eEn") == NULL)
		strcat(buf, ".0");
	fputs(buf, f);
}

static void print_fields(FILE *f, const cfg_field *fields, const void *base,
    int depth, bool one_line);

static void
print_value(FILE *f, const cfg_field *fd, const void *base, int depth)
{
	switch (fd->kind) {
	case CFG_GROUP:
		fputs("{\n", f);
		print_fields(f, fd->fields, base, depth + 1, false);
		fprintf(f, "%*s}", depth * 2, "");
		break;
	case CFG_STRING:
		print_string(f, *(char *const *) cslot(base, fd->offset));
		break;
	case CFG_ENUM: {
		int v = *(const int *) cslot(base, fd->offset);

		print_string(f, fedrpc_cfg_choice_name(fd->choices, v));
		break;
	}
	case CFG_BOOL:
		fputs(*(const bool *) cslot(base, fd->offset) ? "true" : "false",
		    f);
		break;
	case CFG_U16:
		fprintf(f, "%u",
		    (unsigned) *(const uint16_t *) cslot(base, fd->offset));
		break;
	case CFG_U32:
		fprintf(f, "%u",
		    (unsigned) *(const uint32_t *) cslot(base, fd->offset));
		break;
	case CFG_SIZE:
		fprintf(f, "%zu", *(const size_t *) cslot(base, fd->offset));
		break;
	case CFG_DOUBLE:
		print_double(f, *(const double *) cslot(base, fd->offset));
		break;
	case CFG_LIST: {
		const char *arr = *(const char *const *) cslot(base, fd->offset);
		size_t      n   = *(const size_t *) cslot(base, fd->count_offset);

		if (n == 0) {
			fputs("()", f);
			break;
		}
		fputs("(\n", f);
		for (size_t i = 0; i < n; i++) {
			fprintf(f, "%*s{ ", (depth + 1) * 2, "");
			print_fields(f, fd->fields, arr + i * fd->elem_size,
			    0, true);
			fprintf(f, "}%s\n", i + 1 < n ? "," : "");
		}
		fprintf(f, "%*s)", depth * 2, "");
		break;
	}
	case CFG_U32_ARRAY: {
		const uint32_t *arr =
		    *(const uint32_t *const *) cslot(base, fd->offset);
		size_t n = *(const size_t *) cslot(base, fd->count_offset);

		fputc('[', f);
		for (size_t i = 0; i < n; i++)
			fprintf(f, "%s%u", i > 0 ? ", " : "", arr[i]);
		fputc(']', f);
		break;
	}
	}
}

static void
print_fields(FILE *f, const cfg_field *fields, const void *base, int depth,
    bool one_line)
{
	for (const cfg_field *fd = fields; fd->name != NULL; fd++) {
		if (!one_line)
			fprintf(f, "%*s", depth * 2, "");
		fprintf(f, "%s = ", fd->name);
		print_value(f, fd, base, depth);
		if (one_line)
			fputs("; ", f);
		else if (fd->note != NULL)
			fprintf(f, ";  # %s\n", fd->note);
		else
			fputs(";\n", f);
	}
}

void
fedrpc_config_print(const fedrpc_config *cfg, FILE *f)
{
	fputs("# effective configuration", f);
	if (cfg->source != NULL && strchr(cfg->source, '\n') == NULL)
		fprintf(f, " of %s", cfg->source);
	fputs(" (defaults filled in, paths made absolute)\n", f);
	print_fields(f, fedrpc_cfg_schema, cfg, 0, false);
}
