/*
 * Private to the configuration code: the schema (the table of known
 * settings, their types, ranges and defaults) that the loader, the
 * printer and the error messages all walk.
 */
#ifndef FEDRPC_CONFIG_INT_H
#define FEDRPC_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <fedrpc/config.h>

/* The type of a setting in the file and of its slot in the struct. */
typedef enum cfg_kind {
	CFG_GROUP,     /* { ... }; `fields` are its members */
	CFG_STRING,    /* char * */
	CFG_BOOL,      /* bool */
	CFG_U16,       /* integer in the file, uint16_t in the struct */
	CFG_U32,       /* integer, uint32_t */
	CFG_SIZE,      /* integer, size_t */
	CFG_DOUBLE,    /* number (an integer is accepted), double */
	CFG_ENUM,      /* string from `choices`, an int-sized enum */
	CFG_LIST,      /* ( {..}, {..} ): array of structs, `fields` each */
	CFG_U32_ARRAY, /* [1, 2] or (1, 2): uint32_t array */
} cfg_kind;

/* Flags of a setting. */
enum {
	CFG_REQUIRED       = 1 << 0, /* no default: must be in the file */
	CFG_REQUIRED_FED   = 1 << 1, /* required while federation.enabled */
	CFG_NONEMPTY       = 1 << 2, /* "" is refused */
	CFG_NULL_IF_EMPTY  = 1 << 3, /* "" is stored as NULL (optional) */
	CFG_DOMAIN         = 1 << 4, /* lower case, a final dot dropped */
	CFG_PATH           = 1 << 5, /* a file: resolved against base_dir */
	CFG_IPC_PATH       = 1 << 6, /* ipc://path: the path is resolved */
	CFG_INHERIT_SEARCH = 1 << 7, /* default: default_search_policy */
};

typedef struct cfg_choice {
	const char *name;  /* as written in the file */
	int         value; /* the enum value */
} cfg_choice;

/*
 * Checks a string value; returns false and a reason ("must be a tls+tcp://
 * URL ...") completing "setting 'x' ..." when it is not acceptable.
 */
typedef bool (*cfg_check_fn)(const char *value, char *why, size_t len);

/* One known setting. Tables end with an entry whose name is NULL. */
typedef struct cfg_field {
	const char *name;    /* leaf name */
	cfg_kind    kind;
	unsigned    flags;   /* CFG_REQUIRED, ... */
	size_t      offset;  /* of its slot, from the struct being filled */
	size_t      count_offset; /* CFG_LIST, CFG_U32_ARRAY: the size_t count */
	size_t      elem_size;    /* CFG_LIST: one element struct */
	const char *def;     /* default in file syntax ("8", "true", "info");
	                        "{domain}" in a string stands for our domain */
	int64_t     min, max;   /* integers, and array elements */
	double      fmin, fmax; /* CFG_DOUBLE */
	const cfg_choice *choices; /* CFG_ENUM; ends with a NULL name */
	cfg_check_fn      check;   /* CFG_STRING: extra validation */
	const struct cfg_field *fields; /* CFG_GROUP, CFG_LIST members */
	/* What the setting does (or does not do) in this build, printed as
	 * a comment beside its value (--check-config); NULL: nothing. */
	const char *note;
} cfg_field;

/* The root of the schema: the top-level settings, in load order. */
extern const cfg_field fedrpc_cfg_schema[];

extern const cfg_choice fedrpc_cfg_strategies[];
extern const cfg_choice fedrpc_cfg_search_policies[];
extern const cfg_choice fedrpc_cfg_log_formats[];
extern const cfg_choice fedrpc_cfg_log_levels[];
extern const cfg_choice fedrpc_cfg_storage_adapters[];
extern const cfg_choice fedrpc_cfg_tls_versions[];

/* The name of an enum value in a choice table, or NULL. */
const char *fedrpc_cfg_choice_name(const cfg_choice *c, int value);
/* The value of a name (exact match), or -1. */
int fedrpc_cfg_choice_value(const cfg_choice *c, const char *name);

/* config_strings.c: the line where a string that runs over a line end
 * starts (none are meant to), among those starting by line `upto`; 0:
 * none. */
unsigned fedrpc_cfg_open_string_line(const char *text, unsigned upto);
/* Longest ipc:// socket path the kernel accepts (sun_path less NUL). */
#define FEDRPC_CFG_IPC_PATH_MAX 107

#endif
