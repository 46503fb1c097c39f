/*
 * Certificates for tests: a CA, leaves it issues, and a CRL, as files
 * dir/<name>.crt, dir/<name>.key and dir/<ca>.crl. Each call aborts the
 * running test with the reason when it fails.
 */
#ifndef FEDRPC_TESTCERTS_H
#define FEDRPC_TESTCERTS_H

/* Creates dir/<name>.crt and dir/<name>.key for a CA (P-256, 1 year). */
void testcerts_ca(const char *dir, const char *name);

/* Issues dir/<name>.crt/.key signed by CA <ca> with the given DNS SANs
 * (NULL-terminated list; the subject CN is the first, or <name> when there
 * is none), valid from now-1h to now+30d, usage server and client. */
void testcerts_leaf(const char *dir, const char *ca, const char *name,
    const char *const *dns);

/* Same with explicit validity offsets in seconds relative to now, and key
 * type (a fedrpc_pki_key_type). */
void testcerts_leaf_ex(const char *dir, const char *ca, const char *name,
    const char *const *dns, long not_before_offset, long not_after_offset,
    int key_type);

/* Same with an explicit keyUsage (fedrpc_pki_key_usage bits; 0 is
 * digitalSignature), P-256, valid from now-1h to now+30d. */
void testcerts_leaf_usage(const char *dir, const char *ca, const char *name,
    const char *const *dns, unsigned key_usage);

/* Writes dir/<ca>.crl revoking the given leaf certificates (by name,
 * NULL-terminated; NULL or empty: revokes none), next update in 30 days. */
void testcerts_crl(const char *dir, const char *ca,
    const char *const *revoked_leaf_names);

#endif
