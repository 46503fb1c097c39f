/*
 * Name conversions. The protoc-c ones follow protoc-c 1.4's c_helpers.cc
 * rule for rule (ASCII, C locale), because stubs must name the very types
 * and descriptors protoc-c emitted; tests compile stubs against real
 * protoc-c output to keep it that way.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "names.h"

static bool
is_upper(char c)
{
	return isupper((unsigned char) c) != 0;
}

static bool
is_lower(char c)
{
	return islower((unsigned char) c) != 0;
}

static bool
is_digit(char c)
{
	return isdigit((unsigned char) c) != 0;
}

static char
to_lower(char c)
{
	return (char) tolower((unsigned char) c);
}

static char
to_upper(char c)
{
	return (char) toupper((unsigned char) c);
}

static void
pbc_camel(buf *b, const char *s, size_t n)
{
	bool next_upper = true;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '_') {
			next_upper = true;
		} else if (next_upper) {
			buf_putc(b, to_upper(s[i]));
			next_upper = false;
		} else {
			buf_putc(b, s[i]);
		}
	}
}

static void
pbc_camel_to_lower(buf *b, const char *s, size_t n)
{
	bool was_upper = true; /* no underscore before a leading capital */

	for (size_t i = 0; i < n; i++) {
		bool up = is_upper(s[i]);

		if (up && !was_upper)
			buf_putc(b, '_');
		buf_putc(b, up ? to_lower(s[i]) : s[i]);
		was_upper = up;
	}
}

char *
names_pbc_camel(const char *s)
{
	buf b;

	buf_init(&b);
	pbc_camel(&b, s, strlen(s));
	return buf_take(&b);
}

char *
names_pbc_camel_to_lower(const char *s)
{
	buf b;

	buf_init(&b);
	pbc_camel_to_lower(&b, s, strlen(s));
	return buf_take(&b);
}

/* Applies conv to each non-empty dot-separated piece, joined by "__". */
static char *
pbc_full(const char *full, void (*conv)(buf *, const char *, size_t))
{
	buf         b;
	bool        first = true;
	const char *p     = full;

	buf_init(&b);
	while (*p != '\0') {
		size_t n = strcspn(p, ".");

		if (n > 0) {
			if (!first)
				buf_puts(&b, "__");
			conv(&b, p, n);
			first = false;
		}
		p += n;
		if (*p == '.')
			p++;
	}
	return buf_take(&b);
}

char *
names_pbc_full_to_c(const char *full_name)
{
	return pbc_full(full_name, pbc_camel);
}

char *
names_pbc_full_to_lower(const char *full_name)
{
	return pbc_full(full_name, pbc_camel_to_lower);
}

static void
snake(buf *b, const char *s, size_t n)
{
	size_t start = b->len;

	for (size_t i = 0; i < n; i++) {
		char c    = s[i];
		bool room = b->len > start && b->data[b->len - 1] != '_';

		if (!is_upper(c) && !is_lower(c) && !is_digit(c)) {
			if (room)
				buf_putc(b, '_');
			continue;
		}
		if (is_upper(c) && room && i > 0) {
			char prev = s[i - 1];
			char next = i + 1 < n ? s[i + 1] : '\0';

			/* getUser, v1Beta, and the end of an acronym: HTTPThing */
			if (is_lower(prev) || is_digit(prev) ||
			    (is_upper(prev) && is_lower(next)))
				buf_putc(b, '_');
		}
		buf_putc(b, to_lower(c));
	}
	if (!b->failed && b->len > start && b->data[b->len - 1] == '_')
		b->data[--b->len] = '\0';
}

char *
names_snake(const char *s)
{
	buf b;

	buf_init(&b);
	snake(&b, s, strlen(s));
	return buf_take(&b);
}

char *
names_package_snake(const char *package)
{
	buf         b;
	const char *p = package;

	buf_init(&b);
	while (*p != '\0') {
		size_t n = strcspn(p, ".");
		size_t before;

		if (n > 0) {
			before = b.len;
			if (b.len > 0)
				buf_putc(&b, '_');
			snake(&b, p, n);
			/* a piece that made nothing: take back its separator */
			if (!b.failed && b.len == before + 1 &&
			    b.data[before] == '_')
				b.data[b.len = before] = '\0';
		}
		p += n;
		if (*p == '.')
			p++;
	}
	return buf_take(&b);
}

char *
names_upper(const char *s)
{
	buf b;

	buf_init(&b);
	for (; *s != '\0'; s++)
		buf_putc(&b, to_upper(*s));
	return buf_take(&b);
}

static bool
has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

char *
names_strip_proto(const char *file)
{
	size_t n = strlen(file);

	if (has_suffix(file, ".protodevel"))
		n -= strlen(".protodevel");
	else if (has_suffix(file, ".proto"))
		n -= strlen(".proto");
	return strndup(file, n);
}

char *
names_guard(const char *base)
{
	buf b;

	buf_init(&b);
	buf_puts(&b, "FEDRPC_GEN_");
	for (const char *p = base; *p != '\0'; p++)
		buf_putc(&b, isalnum((unsigned char) *p) ? to_upper(*p) : '_');
	buf_puts(&b, "_FEDRPC_H");
	return buf_take(&b);
}

static const char *const keywords[] = {
    "_Alignas", "_Alignof", "_Atomic", "_Bool", "_Complex", "_Generic",
    "_Imaginary", "_Noreturn", "_Static_assert", "_Thread_local", "alignas",
    "alignof", "and", "asm", "auto", "bool", "break", "case", "catch", "char",
    "class", "const", "constexpr", "continue", "default", "delete", "do",
    "double", "else", "enum", "explicit", "extern", "false", "float", "for",
    "friend", "goto", "if", "inline", "int", "long", "mutable", "namespace",
    "new", "not", "nullptr", "operator", "or", "private", "protected",
    "public", "register", "restrict", "return", "short", "signed", "sizeof",
    "static", "static_assert", "struct", "switch", "template", "this",
    "thread_local", "throw", "true", "try", "typedef", "typeof", "union",
    "unsigned", "using", "virtual", "void", "volatile", "while", "xor",
};

bool
names_is_keyword(const char *s)
{
	for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
		if (strcmp(s, keywords[i]) == 0)
			return true;
	return false;
}
