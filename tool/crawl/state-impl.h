/* state-impl.h: what state.c and frontier-sqlite.c share about a state file. */
#ifndef WEFT_TOOL_STATE_IMPL_H
#define WEFT_TOOL_STATE_IMPL_H

#include "crawl/state.h"

#include <sqlite3.h>

/* URL states in the url table (and the frontier's memory of them). */
enum {
    U_QUEUED = 0,   /* waiting in its host's queue */
    U_INFLIGHT = 1, /* handed out (memory only; the file's inflight table) */
    U_DONE = 2,     /* fetched (memory only: in the file, a record names it) */
    U_HELD = 3,     /* beyond --depth: reported as skipped at the end */
    U_SEEN = 4,     /* skipped, or a redirect hop, or a raw href: seen only */
};

struct crawl_state {
    sqlite3 *db;
    int lockfd; /* holds the flock */
    char *path;
};

/* err <- "what: SQLite's message". Returns EIO. */
int state_sqlite_error(sqlite3 *db, const char *what, char *err, size_t errlen);

#endif
