/*
 * The page's files for the web gateway: a file below web.root (installed
 * as share/fedrpc/web) by a plain name, with its content type. Names of
 * letters, digits, '-', '_' and '.' only, one level of folders, never
 * "..": nothing outside the folder can be named. Files are small and read
 * whole on each request (the page is a handful of them).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/file_read.h"
#include "federator/web/web.h"

#define STATIC_MAX (2u << 20)

static bool
name_ok(const char *p)
{
	int slashes = 0;

	if (p[0] == '\0' || p[0] == '.' || strstr(p, "..") != NULL)
		return false;
	for (; *p != '\0'; p++) {
		if (*p == '/') {
			if (++slashes > 1 || p[1] == '.' || p[1] == '\0')
				return false;
			continue;
		}
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		        (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' ||
		        *p == '.'))
			return false;
	}
	return true;
}

static const char *
type_of(const char *name)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
		{".html", "text/html; charset=utf-8"},
		{".js", "text/javascript; charset=utf-8"},
		{".css", "text/css; charset=utf-8"},
		{".svg", "image/svg+xml"},
		{".png", "image/png"},
		{".json", "application/json"},
		{".txt", "text/plain; charset=utf-8"},
	};
	const char *dot = strrchr(name, '.');

	for (size_t i = 0; dot != NULL && i < sizeof(types) / sizeof(types[0]);
	     i++)
		if (strcmp(dot, types[i].ext) == 0)
			return types[i].type;
	return NULL;
}

void
web_static_get(const char *root, const char *path, web_reply *r)
{
	const char *name = path[0] == '/' ? path + 1 : path;
	char        file[4096];
	char       *buf;
	int         err;

	if (name[0] == '\0')
		name = "index.html";
	if (!name_ok(name) || type_of(name) == NULL) {
		web_reply_error(r, 404, "no such file: %s", path);
		return;
	}
	snprintf(file, sizeof(file), "%s/%s", root, name);
	if ((err = fedrpc_file_read(file, FEDRPC_FILE_REGULAR, STATIC_MAX, &buf,
	         &r->len)) != 0) {
		if (err == ENOMEM)
			web_reply_error(r, 500, "out of memory");
		else
			web_reply_error(r, 404, "no such file: %s", path);
		return;
	}
	r->status       = 200;
	r->body         = buf;
	r->content_type = type_of(name);
}
