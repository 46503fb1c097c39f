/*
 * Finding an adapter: the built-in ones by name, or a third-party one from a
 * shared object (dlopen, the well-known entry symbol, an ABI check), and
 * the instance wrapper that keeps the library loaded while it is in use.
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include <fedrpc/adapter.h>

/* An open adapter. */
struct fedrpc_adapter_instance {
	const fedrpc_adapter *adapter;  /* the implementation */
	void                 *instance; /* adapter's; closed by adapter->close */
	void                 *dl;       /* dlopen handle, or NULL (built-in) */
};

static const fedrpc_adapter *const builtins[] = {
	&fedrpc_adapter_sqlite,
	&fedrpc_adapter_postgresql,
};

const fedrpc_adapter *
fedrpc_adapter_builtin(const char *name)
{
	if (name == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
		if (strcmp(builtins[i]->name, name) == 0)
			return builtins[i];
	return NULL;
}

static int
is_path(const char *s)
{
	size_t n = strlen(s);

	return strchr(s, '/') != NULL ||
	    (n > 3 && strcmp(s + n - 3, ".so") == 0) ||
	    strstr(s, ".so.") != NULL;
}

/* Loads a shared object and checks its adapter table. */
static fedrpc_code
load_module(const char *path, void **dlp, const fedrpc_adapter **ap,
    fedrpc_status *st)
{
	void                   *dl;
	fedrpc_adapter_entry_fn entry;
	const fedrpc_adapter   *a;

	dlerror();
	if ((dl = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL)
		return fedrpc_status_set(st, FEDRPC_NOT_FOUND,
		    "cannot load adapter %s: %s", path, dlerror());
	*(void **) &entry = dlsym(dl, FEDRPC_ADAPTER_ENTRY_SYMBOL);
	if (entry == NULL) {
		dlclose(dl);
		return fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
		    "adapter %s has no symbol %s", path,
		    FEDRPC_ADAPTER_ENTRY_SYMBOL);
	}
	if ((a = entry()) == NULL) {
		dlclose(dl);
		return fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
		    "adapter %s: %s returned no adapter", path,
		    FEDRPC_ADAPTER_ENTRY_SYMBOL);
	}
	if (a->abi_version != FEDRPC_ADAPTER_ABI_VERSION) {
		uint32_t v = a->abi_version;

		dlclose(dl);
		return fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
		    "adapter %s was built for adapter ABI %u; this federator "
		    "needs ABI %u",
		    path, v, FEDRPC_ADAPTER_ABI_VERSION);
	}
	if (a->name == NULL || a->open == NULL || a->close == NULL ||
	    a->register_handlers == NULL) {
		dlclose(dl);
		return fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
		    "adapter %s: its table lacks a name, open, close or "
		    "register_handlers",
		    path);
	}
	*dlp = dl;
	*ap  = a;
	return FEDRPC_OK;
}

fedrpc_code
fedrpc_adapter_open(const char *name_or_path, const fedrpc_adapter_env *env,
    const char *config, fedrpc_adapter_instance **out, fedrpc_status *st)
{
	const fedrpc_adapter    *a  = NULL;
	void                    *dl = NULL;
	fedrpc_adapter_instance *inst;
	fedrpc_code              rc;

	*out = NULL;
	if (name_or_path == NULL || name_or_path[0] == '\0')
		return fedrpc_status_set(
		    st, FEDRPC_INVALID_ARGUMENT, "no adapter named");
	if (env == NULL || env->domain == NULL || env->domain[0] == '\0')
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "an adapter needs our domain");
	if ((a = fedrpc_adapter_builtin(name_or_path)) == NULL) {
		if (!is_path(name_or_path))
			return fedrpc_status_set(st, FEDRPC_NOT_FOUND,
			    "no built-in adapter '%s' (built in: sqlite, postgresql; a "
			    "shared object is given by path)",
			    name_or_path);
		if ((rc = load_module(name_or_path, &dl, &a, st)) != FEDRPC_OK)
			return rc;
	}
	if ((inst = calloc(1, sizeof(*inst))) == NULL) {
		if (dl != NULL)
			dlclose(dl);
		return fedrpc_status_set(
		    st, FEDRPC_RESOURCE_EXHAUSTED, "out of memory");
	}
	inst->adapter = a;
	inst->dl      = dl;
	if ((rc = a->open(env, config, &inst->instance, st)) != FEDRPC_OK) {
		if (dl != NULL)
			dlclose(dl);
		free(inst);
		return rc;
	}
	*out = inst;
	return FEDRPC_OK;
}

const fedrpc_adapter *
fedrpc_adapter_instance_adapter(const fedrpc_adapter_instance *inst)
{
	return inst->adapter;
}

fedrpc_code
fedrpc_adapter_register(fedrpc_adapter_instance *inst,
    fedrpc_server *federation_srv, fedrpc_server *local_srv,
    fedrpc_status *st)
{
	return inst->adapter->register_handlers(
	    inst->instance, federation_srv, local_srv, st);
}

void
fedrpc_adapter_peer_heard(fedrpc_adapter_instance *inst, const char *domain)
{
	if (inst != NULL && inst->adapter->peer_heard != NULL && domain != NULL)
		inst->adapter->peer_heard(inst->instance, domain);
}

void
fedrpc_adapter_close(fedrpc_adapter_instance *inst)
{
	if (inst == NULL)
		return;
	inst->adapter->close(inst->instance);
	if (inst->dl != NULL)
		dlclose(inst->dl);
	free(inst);
}

fedrpc_code
fedrpc_sqlite_adapter_open(const char *path, const fedrpc_adapter_env *env,
    fedrpc_adapter_instance **out, fedrpc_status *st)
{
	return fedrpc_adapter_open("sqlite", env, path, out, st);
}
