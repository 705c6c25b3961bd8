/* The source's side of a migration, private to migrate-out.c (the move)
 * and migrate-pull.c (a failed post-copy pull's settlement): the job both
 * work on and the helpers they share. Included by nothing else. */
#ifndef VSD_MIGRATE_OUT_H
#define VSD_MIGRATE_OUT_H

#include <stdbool.h>
#include <stdint.h>

#include "daemon/handlers.h"

/* How long a brief question to the target waits (a failed part's cause,
 * its pull word). */
#define ASK_CAUSE_TIMEOUT_MS 5000

struct out_job {
	struct vsd *d;
	char name[VS_NAME_MAX + 1];
	struct vs_container_config cfg;
	struct vsd_peer_id peer;
	char *url, *fp, *cert, *key;
	char mode[16];
	char bwlimit[32];
	bool was_running;
	bool locked;
	bool check;			    /* --check: blockers are listed, not errors */
	char src_blocker[VS_ERROR_MSG_MAX]; /* --check: this node's own ("" none) */
	bool precopy;			    /* asked for precopy (it runs live, see pick_mode) */
	bool target_pages;		    /* the target's sync takes the "pages" part */
	bool target_rounds;		    /* ... and the "round" part (memory pre-copy) */
	bool postcopy;		   /* asked for postcopy (it runs as live with lazy pages) */
	bool target_lazy;	   /* the target's sync takes the "lazy" part */
	int lazy_fd;		   /* post-copy: the dump's socket until it streams */
	struct vsd_mig_lazy *lazy; /* post-copy: the lazy pages' stream */
	uint64_t lazy_pages;	   /* post-copy: the pages the dump left lazy */
	int64_t lazy_bytes;	   /* ... and the bytes of their stream */
	struct vsd_mig_rounds mem; /* the memory pre-copy rounds made */
	const char *netlock; /* the dump's network lock both nodes' CRIU can use; NULL: default */
	struct vsd_mig_record rec;
	struct vsd_op_run *run;
	/* What the result reports. */
	int64_t t0, frozen_ms, bytes, pages_bytes;
	int64_t dump_ms, commit_ms; /* parts of frozen_ms: the dump, the commit */
	const char *pages_via;	    /* "page-server", "image" or "none" */
	int rounds;
	struct timespec layer_since; /* a second before the first running round (0: none) */
	char *arrived;		     /* the target's commit answer */
	const char *part;	     /* what a push is sending */
	int64_t reported_ms;
	char warning[VS_ERROR_MSG_MAX]; /* moved, but the copy here stays (result) */
};

/* ---- migrate-out.c -------------------------------------------------------- */

/* Frees j (an operation's or a thread's), releasing the name it holds. */
void out_job_free(void *p);
/* A line of the operation's progress (nothing without an operation). */
void out_progress(struct out_job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The target's error message from an answer that was not success: -1,
 * err says what, status and message. */
int out_answer_error(unsigned status, const char *body, const char *what, struct vs_error *err);
/* j's record in state s, written atomically: 0, or -1 (logged). */
int out_save(struct out_job *j, enum vsd_mig_state s);
/* The move is over: the copy here is destroyed. 0, or -1 (logged, err). */
int out_drop_local(struct out_job *j, struct vs_error *err);
/* The container-stopped (t) or -resumed event, with its reason. */
void out_emit_reason(struct out_job *j, enum vsd_event_type t, const char *reason);
/* A held container whose monitor died is killed, still frozen; why gets
 * what happened prefixed. 0 killed (stopped here), -1 the kill failed
 * (why says so; it may still be frozen). */
int out_kill_held(struct out_job *j, struct vs_error *why);
/* A job for record r (its peer, mode, name), holding nothing. */
struct out_job *out_open_job(struct vsd *d, const struct vsd_mig_record *r);

/* ---- migrate-pull.c ------------------------------------------------------- */

/* What the target says of j's copy; UNKNOWN when it cannot be asked (err
 * says why). */
enum vsd_mig_pull_word out_target_pull(struct out_job *j, struct vs_error *err);
/* The pull failed after the target resumed the container: 1 the target's
 * copy was whole (moved), 0 recovered here (err says so), -1 undecided or
 * the thaw failed (err; a thread goes on asking). */
int out_pull_failed(struct out_job *j, struct vs_error *err);
/* After the target's "pulled" (post-copy) or "done" (any other mode): the
 * copy here is removed, the record says "pulled" ("removed") and msg what
 * happened: 1. A removal that fails leaves the
 * record "removing" (its error says so and how it goes), err the same: 0;
 * a thread (out_pull_later) or vsd's next start tries again. */
int out_pull_drop(struct out_job *j, char *msg, size_t len, struct vs_error *err);
/* A thread settles j's failed pull; a name j holds passes to it. */
void out_pull_later(struct out_job *j);
/* vsctl migrate NAME --recover [--force]: 0 with out's 202 for an
 * operation of kind container-migrate-recover (one look at the target, or
 * for a moved copy left here one try of its removal; its result
 * {container, migration, outcome, message}, its error a refusal), or -1
 * at once with err (409: no failed pull and no copy left to remove for
 * name, a recover running already, or the name busy otherwise). */
int out_recover_pull(struct vsd *d, const char *name, bool force, struct vsd_reply *out,
		     struct vs_error *err);
/* A post-copy move whose commit the target says is done, found open after
 * a restart or a lost answer: settled by the target's pull word, or left
 * to a thread. 1. */
int out_settle_pull(struct out_job *j);

#endif
