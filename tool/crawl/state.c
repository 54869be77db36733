/* crawl/state.c: a crawl's state file: creating it atomically, refusing
 * files that are not weft's (untouched), the one-owner lock, the crawl's
 * identity, and reading its records back (--dump). The frontier on it is
 * frontier-sqlite.c. */
#include "crawl/records-pack.h"
#include "crawl/state-impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static const char schema_sql[] =
    "CREATE TABLE meta(k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE host(id INTEGER PRIMARY KEY, origin TEXT NOT NULL UNIQUE,"
    " robots_status INTEGER, robots BLOB, pause_until REAL NOT NULL DEFAULT 0);"
    /* Rows are appended in id order (no random inserts); h is the URL's
     * 64-bit hash, which the frontier's seen set keys on in memory; parent
     * is the parent's id. */
    "CREATE TABLE url(id INTEGER PRIMARY KEY, h INTEGER NOT NULL, url TEXT NOT NULL, parent "
    "INTEGER,"
    " depth INTEGER NOT NULL, host INTEGER, state INTEGER NOT NULL,"
    " attempt INTEGER NOT NULL DEFAULT 0, seq INTEGER NOT NULL);"
    "CREATE INDEX url_queue ON url(host, depth, seq) WHERE state = 0;"
    "CREATE INDEX url_held ON url(seq) WHERE state = 3;"
    /* A URL handed out is in inflight until it ends; it has ended when a
     * record names it (url_id) or, without one, when done has it. So the
     * url table is written once per URL and never updated per page. */
    "CREATE TABLE inflight(id INTEGER PRIMARY KEY);"
    "CREATE TABLE done(id INTEGER PRIMARY KEY);"
    /* rec: the record packed (records-pack.h): one column is a fraction of
     * the cost of 24 bound ones, on the path of every page. */
    "CREATE TABLE record(id INTEGER PRIMARY KEY, url_id INTEGER, skip INTEGER NOT NULL,"
    " rec BLOB NOT NULL);"
    "CREATE INDEX record_url ON record(url_id) WHERE url_id IS NOT NULL;";

int state_sqlite_error(sqlite3 *db, const char *what, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s: %s", what, db ? sqlite3_errmsg(db) : "out of memory");
    return EIO;
}

static int exec(sqlite3 *db, const char *sql, const char *what, char *err, size_t errlen)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return state_sqlite_error(db, what, err, errlen);
    return 0;
}

/* The value of meta key k into buf ("" when absent). Returns SQLite's code. */
static int meta_get(sqlite3 *db, const char *k, char *buf, size_t n)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, "SELECT v FROM meta WHERE k = ?", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_text(st, 1, k, -1, SQLITE_STATIC);
    buf[0] = '\0';
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        snprintf(buf, n, "%s", (const char *)sqlite3_column_text(st, 0));
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

static int meta_put(sqlite3 *db, const char *k, const char *v)
{
    sqlite3_stmt *st;
    int rc =
        sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO meta(k, v) VALUES(?, ?)", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_text(st, 1, k, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, v, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* A new state file at path, made under a temporary name and linked into
 * place whole, so a crash while creating it leaves no half-made file. */
static int create_file(const char *path, const state_option *opts, size_t n, char *err,
                       size_t errlen)
{
    size_t tl = strlen(path) + 32;
    char *tmp = malloc(tl);
    if (!tmp)
        return ENOMEM;
    snprintf(tmp, tl, "%s.new-%ld", path, (long)getpid());
    unlink(tmp);
    sqlite3 *db = NULL;
    int rc = 0;
    if (sqlite3_open_v2(tmp, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        rc = state_sqlite_error(db, "cannot create it", err, errlen);
        goto out;
    }
    char v[32];
    snprintf(v, sizeof v, "%d", STATE_SCHEMA);
    if ((rc = exec(db, "BEGIN", "cannot create it", err, errlen)) != 0 ||
        (rc = exec(db, schema_sql, "cannot create it", err, errlen)) != 0)
        goto out;
    int src = meta_put(db, "format", "weft-crawl-state");
    if (src == SQLITE_OK)
        src = meta_put(db, "schema", v);
    if (src == SQLITE_OK)
        src = meta_put(db, "finished", "0");
    for (size_t i = 0; i < n && src == SQLITE_OK; i++) {
        char k[80];
        snprintf(k, sizeof k, "opt%s", opts[i].name);
        src = meta_put(db, k, opts[i].value);
    }
    if (src != SQLITE_OK) {
        rc = state_sqlite_error(db, "cannot create it", err, errlen);
        goto out;
    }
    if ((rc = exec(db, "COMMIT", "cannot create it", err, errlen)) != 0)
        goto out;
    sqlite3_close(db);
    db = NULL;
    if (link(tmp, path) != 0) {
        rc = errno;
        if (rc != EEXIST) /* EEXIST: another process made it first: open theirs */
            snprintf(err, errlen, "cannot create it: %s", strerror(rc));
    }
out:
    sqlite3_close(db);
    unlink(tmp);
    free(tmp);
    return rc;
}

/* "is corrupt: <first line of the integrity check>" into err. */
static int corrupt(sqlite3 *db, char *err, size_t errlen)
{
    char first[200] = "", why[200];
    snprintf(why, sizeof why, "%s", sqlite3_errmsg(db));
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "PRAGMA integrity_check(1)", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
            snprintf(first, sizeof first, "%s", (const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
    }
    snprintf(err, errlen, "is corrupt (%s; SQLite's integrity check: %s); it was left as it is",
             why, first[0] ? first : "cannot run");
    return EINVAL;
}

static bool is_corrupt_code(int rc)
{
    rc &= 0xff;
    return rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB || rc == SQLITE_FORMAT;
}

/* Compares the stored identity with opts: EEXIST and err naming the first
 * option that differs. */
static int check_identity(sqlite3 *db, const state_option *opts, size_t n, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        char k[80], v[4096];
        snprintf(k, sizeof k, "opt%s", opts[i].name);
        if (meta_get(db, k, v, sizeof v) != SQLITE_OK)
            return state_sqlite_error(db, "cannot read it", err, errlen);
        if (strcmp(v, opts[i].value) != 0) {
            if (strcmp(opts[i].name, "URL") == 0)
                snprintf(err, errlen, "holds the crawl of %s, not of %s", v, opts[i].value);
            else
                snprintf(err, errlen,
                         "was made with %s '%s', not '%s': run with the same %s (or use "
                         "another state file)",
                         opts[i].name, v, opts[i].value, opts[i].name);
            return EEXIST;
        }
    }
    return 0;
}

/* The count sql returns; *bad set when it could not be read (a damaged
 * file must not pass for an empty or finished crawl). */
static size_t count(sqlite3 *db, const char *sql, bool *bad)
{
    sqlite3_stmt *st;
    size_t n = 0;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            n = (size_t)sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    if (rc != SQLITE_ROW)
        *bad = true;
    return n;
}

int crawl_state_open(crawl_state **out, const char *path, const state_option *opts, size_t n,
                     bool create, state_info *info, char *err, size_t errlen)
{
    memset(info, 0, sizeof *info);
    *out = NULL;
    err[0] = '\0';
    /* Before SQLite's first use (later: SQLITE_MISUSE, harmless). */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    struct stat sb;
    int rc;
    if (stat(path, &sb) != 0) {
        if (errno != ENOENT || !create) {
            rc = errno;
            snprintf(err, errlen, "%s", strerror(rc));
            return rc;
        }
        if ((rc = create_file(path, opts, n, err, errlen)) != 0 && rc != EEXIST)
            return rc;
        info->created = rc == 0;
        if (stat(path, &sb) != 0) {
            rc = errno;
            snprintf(err, errlen, "%s", strerror(rc));
            return rc;
        }
    }
    if (S_ISDIR(sb.st_mode)) {
        snprintf(err, errlen, "is a directory");
        return EISDIR;
    }
    /* Look before SQLite does: it would make an empty file a database. */
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        rc = errno;
        snprintf(err, errlen, "%s", strerror(rc));
        return rc;
    }
    char magic[16] = {0};
    ssize_t got = pread(fd, magic, sizeof magic, 0);
    if (got != (ssize_t)sizeof magic || memcmp(magic, "SQLite format 3", 16) != 0) {
        snprintf(err, errlen, "%s; it was left as it is",
                 got == 0 ? "is empty, not a weft state file"
                          : "is not a weft state file (not even an SQLite database)");
        close(fd);
        return EINVAL;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        rc = errno;
        if (rc == EWOULDBLOCK)
            snprintf(err, errlen,
                     "is in use by another weft crawl (it holds the file's lock); wait for it "
                     "to end, or stop it");
        else
            snprintf(err, errlen, "cannot lock it: %s", strerror(rc));
        close(fd);
        return rc == EWOULDBLOCK ? EBUSY : rc;
    }
    crawl_state *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        close(fd);
        return ENOMEM;
    }
    s->lockfd = fd;
    /* The frontier serialises every use of the connection under its own
     * lock: SQLite's per-call mutexes and its allocation statistics would
     * only add a lock round trip to every call. */
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        rc = state_sqlite_error(s->db, "cannot open it", err, errlen);
        goto fail;
    }
    sqlite3_extended_result_codes(s->db, 1);
    /* The next open recovers the WAL: closing need not copy it back (a
     * checkpoint's writes and syncs at the end of every run), and a file
     * refused below is not written at all. */
    sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
    /* One process owns the file (the flock): SQLite's own locks and its
     * shared-memory index (-shm) are not needed, so a full disk or a
     * read-only directory cannot stop the file being read. */
    sqlite3_exec(s->db, "PRAGMA locking_mode=EXCLUSIVE", NULL, NULL, NULL);
    char v[64];
    int src = meta_get(s->db, "format", v, sizeof v);
    if (is_corrupt_code(src)) {
        rc = corrupt(s->db, err, errlen);
        goto fail;
    }
    if (src != SQLITE_OK && !strstr(sqlite3_errmsg(s->db), "no such table")) {
        rc = state_sqlite_error(s->db, "cannot read it", err, errlen);
        goto fail;
    }
    if (src != SQLITE_OK || strcmp(v, "weft-crawl-state") != 0) {
        snprintf(err, errlen,
                 "is an SQLite database but not a weft state file; it was left as it is");
        rc = EINVAL;
        goto fail;
    }
    if (meta_get(s->db, "schema", v, sizeof v) != SQLITE_OK) {
        rc = state_sqlite_error(s->db, "cannot read it", err, errlen);
        goto fail;
    }
    long schema = strtol(v, NULL, 10);
    if (schema != STATE_SCHEMA) {
        snprintf(err, errlen,
                 "was written by %s weft (state schema %ld; this weft reads schema %d); it was "
                 "left as it is",
                 schema > STATE_SCHEMA ? "a newer" : "another", schema, STATE_SCHEMA);
        rc = EINVAL;
        goto fail;
    }
    if (opts && (rc = check_identity(s->db, opts, n, err, errlen)) != 0)
        goto fail;
    /* WAL: readers never block the writer and a commit is one append.
     * synchronous=NORMAL: a killed process loses nothing committed (only
     * a power cut could lose the last batches, never consistency). */
    if ((rc = exec(
             s->db,
             "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
             "PRAGMA cache_size=-8192; PRAGMA temp_store=MEMORY; PRAGMA wal_autocheckpoint=4096",
             "cannot open it", err, errlen)) != 0)
        goto fail;
    if (meta_get(s->db, "finished", v, sizeof v) != SQLITE_OK) {
        rc = state_sqlite_error(s->db, "cannot read it", err, errlen);
        goto fail;
    }
    info->finished = strcmp(v, "1") == 0;
    /* done: pages that ended without a record of their own (none in a crawl
     * by the CLI, which writes one for every page). */
    bool bad = false;
    info->pages =
        count(s->db, "SELECT count(*) FROM record WHERE skip = 0 AND url_id IS NOT NULL", &bad) +
        count(s->db, "SELECT count(*) FROM done", &bad);
    info->queued = count(s->db,
                         "SELECT count(*) FROM url u WHERE state = 0 AND NOT EXISTS "
                         "(SELECT 1 FROM record r WHERE r.url_id = u.id) AND NOT EXISTS "
                         "(SELECT 1 FROM done d WHERE d.id = u.id)",
                         &bad);
    info->requeued = count(s->db, "SELECT count(*) FROM inflight", &bad);
    /* Every record must read back, too: a finished crawl whose records are
     * damaged is not "complete". */
    count(s->db, "SELECT count(*) FROM record WHERE length(rec) >= 0", &bad);
    if (bad) {
        rc = corrupt(s->db, err, errlen);
        goto fail;
    }
    *out = s;
    return 0;
fail:
    if (is_corrupt_code(sqlite3_extended_errcode(s->db)) && rc != EINVAL)
        rc = corrupt(s->db, err, errlen);
    crawl_state_close(s);
    return rc;
}

void crawl_state_global_init(void)
{
    /* SQLITE_MISUSE once SQLite is initialised: then it stays as it is. */
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

void crawl_state_close(crawl_state *s)
{
    if (!s)
        return;
    sqlite3_close_v2(s->db);
    close(s->lockfd); /* and the flock with it */
    free(s->path);
    free(s);
}

int crawl_state_dump(crawl_state *s, crawl_record_fn *fn, void *ud, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT rec FROM record ORDER BY id", -1, &st, NULL) != SQLITE_OK)
        return state_sqlite_error(s->db, "cannot read it", err, errlen);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *p = sqlite3_column_blob(st, 0);
        int n = sqlite3_column_bytes(st, 0);
        if (record_unpack(p ? p : "", (size_t)n, fn, ud) == EINVAL) {
            snprintf(err, errlen, "is corrupt (a record does not read back); it was left as it is");
            sqlite3_finalize(st);
            return EIO;
        }
    }
    int ok = rc == SQLITE_DONE;
    if (!ok) {
        if (is_corrupt_code(rc))
            corrupt(s->db, err, errlen);
        else
            state_sqlite_error(s->db, "cannot read it", err, errlen);
    }
    sqlite3_finalize(st);
    return ok ? 0 : EIO;
}
