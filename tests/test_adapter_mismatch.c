/*
 * The owner's message check (backends/reference/mismatch.c) called directly:
 * missing / redundant / deleted / valid as Wire's checkMessageClients
 * computes them, the four mismatch strategies, the unknown sending client,
 * clients taken on trust when a domain cannot list them, and the reports'
 * order.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "backends/reference/mismatch.h"

/* A test allocator: every block is kept and freed at the end. */
static void  *blocks[4096];
static size_t n_blocks;

static void *
t_alloc(void *data, size_t size)
{
	(void) data;
	cr_assert_lt(n_blocks, 4096);
	return blocks[n_blocks++] = malloc(size);
}

static void
t_free(void *data, void *p)
{
	(void) data;
	(void) p; /* freed in bulk */
}

static ProtobufCAllocator al = {t_alloc, t_free, NULL};

static void
free_all(void)
{
	for (size_t i = 0; i < n_blocks; i++)
		free(blocks[i]);
	n_blocks = 0;
}

#define DA "a.example"
#define DB "b.example"
#define DC "c.example"
#define UA "00000000-0000-4000-8000-00000000000a"
#define UB "00000000-0000-4000-8000-00000000000b"
#define UC "00000000-0000-4000-8000-00000000000c"
#define UD "00000000-0000-4000-8000-00000000000d"
#define UE "00000000-0000-4000-8000-00000000000e"

static const uint64_t ca[] = {1, 2};
static const uint64_t cb[] = {10, 11};
static const uint64_t cc[] = {20};

/* Members: A (sender, clients 1 and 2), B (10, 11), C (20) on c.example,
 * and E on c.example with no client. */
static adp_member_clients members[] = {
    {DA, UA, true, 2, ca},
    {DB, UB, true, 2, cb},
    {DC, UC, true, 1, cc},
    {DC, UE, true, 0, NULL},
};

static const ProtobufCBinaryData ct = {3, (uint8_t *) "ct!"};

static adp_uc
uc(const char *d, const char *u, uint64_t c)
{
	adp_uc x = {d, u, c, false, &ct};

	return x;
}

/* Everyone expected: A2, B10, B11, C20. */
static adp_uc full[] = {
    {DA, UA, 2, false, &ct},
    {DB, UB, 10, false, &ct},
    {DB, UB, 11, false, &ct},
    {DC, UC, 20, false, &ct},
};

static adp_check_result
check(adp_uc *r, size_t n, adp_strategy_kind k, adp_uc *su, size_t n_su)
{
	adp_check_input  in = {0};
	adp_check_result res;
	fedrpc_status    st = {0};

	in.sender           = uc(DA, UA, 1);
	in.members          = members;
	in.n_members        = 4;
	in.recipients       = r;
	in.n_recipients     = n;
	in.strategy         = k;
	in.strategy_users   = su;
	in.n_strategy_users = n_su;
	cr_assert_eq(adp_check_message(&in, &al, &res, &st), FEDRPC_OK, "%s",
	    st.message);
	return res;
}

static bool
has(const adp_uc_set *s, const char *u, uint64_t c)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i].id, u) == 0 && s->v[i].client == c)
			return true;
	return false;
}

Test(mismatch, all_present_is_sent, .fini = free_all)
{
	adp_check_result r = check(full, 4, ADP_REPORT_ALL, NULL, 0);

	cr_assert(r.send);
	cr_assert_not(r.unknown_sender_client);
	cr_assert_eq(r.missing.n, 0);
	cr_assert_eq(r.redundant.n, 0);
	cr_assert_eq(r.deleted.n, 0);
	cr_assert_eq(r.valid.n, 4);
	cr_assert(r.valid.v[0].ct == &ct, "valid pairs keep the ciphertext");
}

Test(mismatch, strategies_filter_missing_only, .fini = free_all)
{
	/* B11 and C20 left out. */
	adp_uc           r2[] = {full[0], full[1]};
	adp_uc           onlyB[] = {uc(DB, UB, 0)};
	adp_uc           onlyC[] = {uc(DC, UC, 0), uc(DC, UC, 0)};
	adp_uc           nobody[] = {uc(DB, UD, 0)};
	adp_check_result r;

	r = check(r2, 2, ADP_REPORT_ALL, NULL, 0);
	cr_assert_not(r.send);
	cr_assert_eq(r.missing.n, 2);
	cr_assert(has(&r.missing, UB, 11) && has(&r.missing, UC, 20));

	r = check(r2, 2, ADP_IGNORE_ALL, NULL, 0);
	cr_assert(r.send);
	cr_assert_eq(r.missing.n, 0);
	cr_assert_eq(r.valid.n, 2);

	r = check(r2, 2, ADP_REPORT_ONLY, onlyB, 1);
	cr_assert_not(r.send);
	cr_assert_eq(r.missing.n, 1);
	cr_assert(has(&r.missing, UB, 11));

	/* Duplicates among the listed users are fine. */
	r = check(r2, 2, ADP_REPORT_ONLY, onlyC, 2);
	cr_assert_not(r.send);
	cr_assert_eq(r.missing.n, 1);
	cr_assert(has(&r.missing, UC, 20));

	/* Listed users need not be members. */
	r = check(r2, 2, ADP_REPORT_ONLY, nobody, 1);
	cr_assert(r.send);

	r = check(r2, 2, ADP_IGNORE_ONLY, onlyB, 1);
	cr_assert_not(r.send);
	cr_assert_eq(r.missing.n, 1);
	cr_assert(has(&r.missing, UC, 20));

	adp_uc bc[] = {uc(DB, UB, 0), uc(DC, UC, 0)};
	r = check(r2, 2, ADP_IGNORE_ONLY, bc, 2);
	cr_assert(r.send);
	cr_assert_eq(r.missing.n, 0);
}

Test(mismatch, redundant_and_deleted, .fini = free_all)
{
	adp_uc r[] = {
	    full[0], full[1], full[2], full[3],
	    uc(DB, UD, 30), /* not a member: redundant */
	    uc(DA, UA, 1),  /* the sending client itself: redundant */
	    uc(DB, UB, 99), /* a member's client that does not exist */
	};
	adp_check_result res = check(r, 7, ADP_REPORT_ALL, NULL, 0);

	cr_assert(res.send, "redundant and deleted never stop a message");
	cr_assert_eq(res.redundant.n, 2);
	cr_assert(has(&res.redundant, UD, 30));
	cr_assert(has(&res.redundant, UA, 1));
	cr_assert_eq(res.deleted.n, 1);
	cr_assert(has(&res.deleted, UB, 99));
	cr_assert_eq(res.valid.n, 4);
}

Test(mismatch, unknown_sender_client_and_bad_input, .fini = free_all)
{
	adp_check_input  in = {0};
	adp_check_result res;
	fedrpc_status    st = {0};
	adp_uc           dup[] = {full[1], full[1]};

	in.sender       = uc(DA, UA, 5);
	in.members      = members;
	in.n_members    = 4;
	in.recipients   = full;
	in.n_recipients = 4;
	in.strategy     = ADP_REPORT_ALL;
	cr_assert_eq(adp_check_message(&in, &al, &res, &st), FEDRPC_OK);
	cr_assert(res.unknown_sender_client);

	in.sender = uc(DB, UD, 1); /* not a member at all */
	cr_assert_eq(adp_check_message(&in, &al, &res, &st), FEDRPC_OK);
	cr_assert(res.unknown_sender_client);

	in.sender       = uc(DA, UA, 1);
	in.recipients   = dup;
	in.n_recipients = 2;
	cr_assert_eq(adp_check_message(&in, &al, &res, &st),
	    FEDRPC_INVALID_ARGUMENT);
	cr_assert(strstr(st.message, "twice"), "%s", st.message);
}

Test(mismatch, unconfirmed_domain_taken_on_trust, .fini = free_all)
{
	adp_member_clients m[4];
	adp_check_input    in = {0};
	adp_check_result   res;
	fedrpc_status      st = {0};
	adp_uc             r[] = {
            full[0], full[1], full[2],
            uc(DC, UC, 77), /* C's client, unverifiable: trusted */
            uc(DC, UD, 5),  /* a non-member on c.example: redundant */
        };

	memcpy(m, members, sizeof(m));
	m[2].confirmed = false;
	m[3].confirmed = false;
	in.sender       = uc(DA, UA, 1);
	in.members      = m;
	in.n_members    = 4;
	in.recipients   = r;
	in.n_recipients = 5;
	in.strategy     = ADP_REPORT_ALL;
	cr_assert_eq(adp_check_message(&in, &al, &res, &st), FEDRPC_OK);
	cr_assert(res.send, "unverifiable members are never missing");
	cr_assert_eq(res.valid.n, 4);
	cr_assert(has(&res.valid, UC, 77));
	cr_assert_eq(res.failed_to_confirm.n, 1);
	cr_assert(has(&res.failed_to_confirm, UC, 77));
	cr_assert_eq(res.redundant.n, 1);
	cr_assert(has(&res.redundant, UD, 5));
	cr_assert_eq(res.deleted.n, 0);
	/* E is a member of c.example with nothing listed. */
	cr_assert_eq(res.unconfirmed_absent.n, 1);
	cr_assert_str_eq(res.unconfirmed_absent.v[0].id, UE);
	cr_assert(res.unconfirmed_absent.v[0].user_only);

	/* The sender's own domain cannot be asked: its client is trusted. */
	m[0].confirmed = false;
	in.sender      = uc(DA, UA, 12345);
	cr_assert_eq(adp_check_message(&in, &al, &res, &st), FEDRPC_OK);
	cr_assert_not(res.unknown_sender_client);
}

Test(mismatch, reports_sorted_and_grouped, .fini = free_all)
{
	adp_uc s[] = {
	    uc(DB, UB, 11), uc(DA, UA, 3), uc(DB, UB, 2), uc(DB, UC, 1),
	};
	adp_uc_set set = {s, 4};
	adp_uc_set other, uni;
	adp_uc     o[] = {{DC, UE, 0, true, NULL}};
	size_t     n;
	Fedrpc__Federation__V1__UserClientIds   **rep;
	Fedrpc__Federation__V1__UserCiphertexts **cts;

	qsort(s, 4, sizeof(adp_uc),
	    (int (*)(const void *, const void *)) adp_uc_cmp);
	rep = adp_uc_report(&set, &al, &n);
	cr_assert_eq(n, 3);
	cr_assert_str_eq(rep[0]->user->domain, DA);
	cr_assert_str_eq(rep[1]->user->id, UB);
	cr_assert_eq(rep[1]->n_clients, 2);
	cr_assert_eq(rep[1]->clients[0], 2);
	cr_assert_eq(rep[1]->clients[1], 11);
	cr_assert_str_eq(rep[2]->user->id, UC);

	other.v = o;
	other.n = 1;
	cr_assert_eq(adp_uc_union(&set, &other, &al, &uni), FEDRPC_OK);
	rep = adp_uc_report(&uni, &al, &n);
	cr_assert_eq(n, 4);
	cr_assert_str_eq(rep[3]->user->id, UE);
	cr_assert_eq(rep[3]->n_clients, 0, "a user with no client listed");

	cts = adp_uc_ciphertexts(&set, DB, &al, &n);
	cr_assert_eq(n, 2, "only b.example's users");
	cr_assert_eq(cts[0]->n_clients, 2);
	cr_assert_eq(cts[0]->clients[1]->ciphertext.len, 3);
	cr_assert_null(adp_uc_report(&(adp_uc_set){NULL, 0}, &al, &n));
	cr_assert_eq(n, 0);
}
