/* state.h: a crawl's durable state in one SQLite file (`weft crawl --state
 * FILE`): opening it safely, the crawl's identity (the options that decide
 * its page set), the records of every page, and the frontier on it.
 *
 * DESIGN: the file holds the whole frontier (queue, seen set, in-flight
 * set, per-host state, robots.txt responses) and every record, in WAL mode,
 * written by one process at a time (an flock on the file, taken at open, so
 * a second process is refused at once rather than queued behind SQLite's
 * locks). A page's state change, its links and its records commit together
 * (frontier-sqlite.c), many pages per transaction: a batch commits after
 * STATE_BATCH_PAGES pages or STATE_BATCH_SECONDS, whichever comes first, so
 * a kill -9 costs at most the pages in flight and two batches (the one
 * being written to the file and the one being filled), which the next run
 * fetches again. Nothing else is ever lost: the file only moves
 * from one committed state to the next.
 *
 * Opening never changes a file it does not recognise: a file that is not
 * SQLite, SQLite without weft's tables, a newer schema, or a corrupt one is
 * refused with a sentence saying which, and left as it was. */
#ifndef WEFT_TOOL_STATE_H
#define WEFT_TOOL_STATE_H

#include "crawl/crawl.h"

#include <stdbool.h>
#include <stddef.h>

#define STATE_SCHEMA        1
#define STATE_BATCH_PAGES   50
#define STATE_BATCH_SECONDS 0.05

typedef struct crawl_state crawl_state;

/* One option that decides the crawl's page set, as it is stored. */
typedef struct state_option {
    const char *name;  /* the flag, e.g. "--depth" ("URL" for the start URL) */
    const char *value; /* its value as text */
} state_option;

typedef struct state_info {
    bool created;    /* a new file */
    bool finished;   /* the crawl in it is over */
    size_t pages;    /* pages done */
    size_t queued;   /* URLs waiting (the re-queued included) */
    size_t requeued; /* in flight when the last run ended: queued again */
} state_info;

/* Sets SQLite up for this process: no memory statistics (they take a
 * global mutex on every SQLite allocation, and the crawl's writers never
 * read them). Call once from the main thread before any thread or state
 * file exists; a later call does nothing. Does not block. */
void crawl_state_global_init(void);

/* Opens path for the crawl that `opts` (n of them) define, creating it when
 * it does not exist (and create is true). With opts NULL (--dump) the
 * identity is not checked. On failure returns non-zero and writes a
 * sentence to err (the file is left untouched): EINVAL the file is not a
 * weft state file (or corrupt, or newer), EBUSY another process has it,
 * EEXIST an option differs (err names it), ENOENT it does not exist and
 * create is false, or the errno/EIO of a failed access. Blocks on file
 * I/O only. */
int crawl_state_open(crawl_state **out, const char *path, const state_option *opts, size_t n,
                     bool create, state_info *info, char *err, size_t errlen);

/* Commits what is pending and closes. NULL is a no-op. */
void crawl_state_close(crawl_state *s);

/* Calls fn for every record in the file, in the order they were made.
 * Returns 0, or EIO with err filled. */
int crawl_state_dump(crawl_state *s, crawl_record_fn *fn, void *ud, char *err, size_t errlen);

/* The frontier on s (one per state; s must outlive it). product is the
 * robots.txt product token, to rebuild the rules the file keeps. Returns 0,
 * ENOMEM, or EIO (the file could not be read: frontier-less). */
int frontier_new_sqlite(frontier **out, const frontier_opts *o, crawl_state *s,
                        const char *product);

#endif
