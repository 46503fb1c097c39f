/*
 * Where an unterminated string starts. libconfig lets a string run over
 * line ends, so a missing closing quote swallows the lines after it and
 * the syntax error surfaces at the next quote, often far below; a person
 * wants the line that lost its quote. This scans the text as libconfig's
 * scanner does (strings with backslash escapes; #, // and C comments).
 */
#include <string.h>

#include "core/config/config_int.h"

unsigned
fedrpc_cfg_open_string_line(const char *text, unsigned upto)
{
	unsigned line = 1;

	for (const char *p = text; *p != '\0' && line <= upto; p++) {
		if (*p == '\n') {
			line++;
		} else if (*p == '#' || (p[0] == '/' && p[1] == '/')) {
			while (p[1] != '\0' && p[1] != '\n')
				p++;
		} else if (p[0] == '/' && p[1] == '*') {
			for (p += 2; *p != '\0' && !(p[0] == '*' && p[1] == '/');
			     p++)
				line += *p == '\n';
			if (*p == '\0')
				break;
			p++;
		} else if (*p == '"') {
			unsigned start = line;

			for (p++; *p != '\0' && *p != '"'; p++) {
				if (*p == '\\' && p[1] != '\0')
					p++;
				line += *p == '\n';
			}
			if (line != start)
				return start;
			if (*p == '\0')
				break;
		}
	}
	return 0;
}
