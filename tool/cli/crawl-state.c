/* cli/crawl-state.c: `weft crawl --state FILE`: opening the file for the
 * command's crawl (or refusing it), what a resumed run says, the whole
 * crawl's totals, how a stopped run says to resume, and --dump. */
#include "cli/crawl-state.h"
#include "crawl/frontier-redis.h"
#include "crawl/redis-conn.h"
#include "parse/urlnorm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "1,234,567" */
static const char *thousands(char *buf, size_t n, size_t v)
{
    char raw[32];
    int len = snprintf(raw, sizeof raw, "%zu", v);
    size_t j = 0;
    for (int i = 0; i < len && j + 2 < n; i++) {
        if (i > 0 && (len - i) % 3 == 0)
            buf[j++] = ',';
        buf[j++] = raw[i];
    }
    buf[j] = '\0';
    return buf;
}

/* The options that decide the crawl's page set, as text. Changing any of
 * them would make a different crawl; -j, --timeout, --retries, the output
 * format and the like may change between runs. */
typedef struct identity {
    state_option v[9];
    size_t n;
    char depth[32], max_pages[32], allow[4096], deny[4096];
    char *url;
} identity;

static void join(char *buf, size_t n, const char **v, size_t k)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < k && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%s", i ? "\n" : "", v[i]);
}

static int identity_make(identity *id, const crawl_opts *o, const char *product)
{
    memset(id, 0, sizeof *id);
    if (urlnorm(o->start_url, &id->url) != URLNORM_OK) {
        free(id->url);
        id->url = NULL;
        return EINVAL;
    }
    snprintf(id->depth, sizeof id->depth, "%u", o->depth);
    snprintf(id->max_pages, sizeof id->max_pages, "%zu", o->max_pages);
    join(id->allow, sizeof id->allow, o->allow, o->nallow);
    join(id->deny, sizeof id->deny, o->deny, o->ndeny);
    state_option *v = id->v;
    size_t n = 0;
    v[n++] = (state_option){"URL", id->url};
    v[n++] = (state_option){"--depth", id->depth};
    v[n++] = (state_option){"--domain", o->domain ? "yes" : "no"};
    v[n++] = (state_option){"--allow", id->allow};
    v[n++] = (state_option){"--deny", id->deny};
    v[n++] = (state_option){"--no-robots", o->robots ? "no" : "yes"};
    v[n++] = (state_option){"--robots-agent", o->robots ? product : ""};
    v[n++] = (state_option){"--max-pages", id->max_pages};
    id->n = n;
    return 0;
}

/* The key prefix of o's Redis crawl: "weft:<crawl id>:". */
static int redis_prefix(crawl_opts *o, const identity *id)
{
    if (o->crawl_id) {
        size_t n = strlen(o->crawl_id);
        bool ok = n > 0 && n <= 100;
        for (const char *p = o->crawl_id; *p && ok; p++)
            ok = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", *p);
        if (!ok) {
            fprintf(stderr,
                    "weft crawl: --crawl-id wants 1 to 100 letters, digits, '.', '_' or "
                    "'-', not '%s'\n",
                    o->crawl_id);
            return 2;
        }
        snprintf(o->redis_prefix, sizeof o->redis_prefix, "weft:%s:", o->crawl_id);
        return 0;
    }
    /* Derived from what decides the crawl's pages, so the same command on
     * every machine joins the same crawl. */
    unsigned long long h = 0;
    for (size_t i = 0; i < id->n; i++) {
        char part[8300];
        snprintf(part, sizeof part, "%s=%s;", id->v[i].name, id->v[i].value);
        h = h * 1099511628211ull ^ frontier_hash(part);
    }
    snprintf(o->redis_prefix, sizeof o->redis_prefix, "weft:%016llx:", h);
    return 0;
}

static int redis_connect(crawl_opts *o, char *name, size_t nlen)
{
    redis_addr a;
    char err[512];
    if (redis_parse_url(o->state_path, &a, err, sizeof err) != 0) {
        fprintf(stderr, "weft crawl: --state %s: %s\n", o->state_path, err);
        return 2;
    }
    redis_addr_name(&a, name, nlen);
    if (redis_pool_new(&o->redis, &a, o->redis_timeout, o->stop, err, sizeof err) != 0) {
        fprintf(stderr, "weft crawl: Redis at %s: %s\n", name, err);
        return 2;
    }
    return 0;
}

static int redis_begin(crawl_opts *o, const identity *id)
{
    char name[700];
    int rc = redis_prefix(o, id);
    if (rc == 0)
        rc = redis_connect(o, name, sizeof name);
    if (rc != 0)
        return rc;
    const char *argv[2 * 9];
    for (size_t i = 0; i < id->n; i++) {
        argv[2 * i] = id->v[i].name;
        argv[2 * i + 1] = id->v[i].value;
    }
    char err[512];
    redisReply *r = redis_script(o->redis, RS_INIT, o->redis_prefix, (int)(2 * id->n), argv, NULL,
                                 err, sizeof err);
    const char *k = r && r->type == REDIS_REPLY_ARRAY && r->elements ? r->element[0]->str : "";
    int status = -1;
    if (!r) {
        fprintf(stderr, "weft crawl: Redis at %s: %s\n", name, err);
        status = 2;
    } else if (strcmp(k, "differs") == 0) {
        const char *given = "";
        for (size_t i = 0; i < id->n; i++)
            if (strcmp(id->v[i].name, r->element[1]->str) == 0)
                given = id->v[i].value;
        fprintf(stderr,
                "weft crawl: the crawl %s on %s was started with %s '%s', not '%s': run with "
                "the same %s (or another --crawl-id)\n",
                o->redis_prefix, name, r->element[1]->str, r->element[2]->str, given,
                r->element[1]->str);
        status = 2;
    } else if (strcmp(k, "foreign") == 0) {
        fprintf(stderr,
                "weft crawl: Redis at %s: the keys under %s are not a weft crawl (%s); nothing "
                "was changed\n",
                name, o->redis_prefix, r->element[1]->str);
        status = 2;
    } else if (strcmp(k, "finished") == 0) {
        fprintf(stderr, "weft crawl: the crawl %s on %s is complete; nothing to fetch.\n",
                o->redis_prefix, name);
        status = 0;
    } else if (strcmp(k, "join") == 0) {
        fprintf(stderr, "weft crawl: joining the crawl %s on %s\n", o->redis_prefix, name);
    } else if (strcmp(k, "new") == 0) {
        fprintf(stderr,
                "weft crawl: starting the crawl %s on %s (other processes join it with the "
                "same command)\n",
                o->redis_prefix, name);
    }
    freeReplyObject(r);
    if (status >= 0) {
        redis_pool_free(o->redis);
        o->redis = NULL;
    }
    return status;
}

int crawl_state_begin(crawl_opts *o, const char *product)
{
    identity id;
    if (identity_make(&id, o, product) != 0) {
        fprintf(stderr, "weft crawl: '%s' is not an http(s) URL\n", o->start_url);
        return 2;
    }
    if (redis_is_url(o->state_path)) {
        int st = redis_begin(o, &id);
        free(id.url);
        return st;
    }
    state_info info;
    char err[512];
    crawl_state *st = NULL;
    int rc = crawl_state_open(&st, o->state_path, id.v, id.n, true, &info, err, sizeof err);
    free(id.url);
    if (rc != 0) {
        fprintf(stderr, "weft crawl: --state %s: %s\n", o->state_path, err);
        /* Not ours, in use, or another crawl: a usage problem, nothing lost. */
        return rc == ENOMEM ? 1 : 2;
    }
    char a[32], b[32], c[32];
    if (info.finished) {
        fprintf(stderr,
                "weft crawl: the crawl in %s is complete (%s pages); nothing to fetch.\n"
                "'weft crawl --state %s --dump' prints its records.\n",
                o->state_path, thousands(a, sizeof a, info.pages), o->state_path);
        crawl_state_close(st);
        return 0;
    }
    if (!info.created)
        fprintf(stderr,
                "weft crawl: resuming: %s pages done, %s queued, %s in flight were re-queued\n",
                thousands(a, sizeof a, info.pages), thousands(b, sizeof b, info.queued),
                thousands(c, sizeof c, info.requeued));
    o->state = st;
    o->state_fresh = info.created;
    return -1;
}

static void count_record(void *ud, const crawl_record *r)
{
    crawl_result_count(ud, r);
}

int crawl_state_totals(crawl_state *st, crawl_result *tot)
{
    char err[512];
    crawl_result t = {0};
    int rc = crawl_state_dump(st, count_record, &t, err, sizeof err);
    if (rc != 0) {
        crawl_result_free(&t);
        fprintf(stderr, "weft crawl: %s\n", err);
        return rc;
    }
    /* The per-depth times come from different runs: they are not a span. */
    for (size_t d = 0; d < t.nlevels; d++)
        t.levels[d].first = t.levels[d].last = 0;
    t.run_pages = tot->pages;
    crawl_result_free(tot);
    t.wall = tot->wall;
    t.cpu = tot->cpu;
    t.interrupted = tot->interrupted;
    t.error = tot->error;
    memcpy(t.error_text, tot->error_text, sizeof t.error_text);
    t.seen = tot->seen;
    t.set_bytes = tot->set_bytes;
    *tot = t;
    return 0;
}

/* Writes argv as a shell command a user can paste. */
static void print_command(FILE *out, int argc, char **argv)
{
    fputs("  weft", out);
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        bool plain = *a != '\0';
        for (const char *p = a; *p && plain; p++)
            plain = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                           "-_./:=@%+,",
                           *p) != NULL;
        /* A Redis password is never printed: the user types it again. */
        char *shown = NULL;
        if (redis_is_url(a) && strchr(a, '@') && (shown = strdup(a)) != NULL) {
            char *pw = strstr(shown, "://") + 3, *at = strrchr(shown, '@');
            char *colon = at > pw ? memchr(pw, ':', (size_t)(at - pw)) : NULL;
            if (colon) {
                memmove(colon + 4, at, strlen(at) + 1);
                memcpy(colon + 1, "***", 3);
            }
            a = shown;
        }
        if (plain) {
            fprintf(out, " %s", a);
            free(shown);
            continue;
        }
        fputs(" '", out);
        for (const char *p = a; *p; p++)
            if (*p == '\'')
                fputs("'\\''", out);
            else
                fputc(*p, out);
        fputc('\'', out);
        free(shown);
    }
    fputc('\n', out);
}

void crawl_state_end(const crawl_opts *o, const crawl_result *r, int argc, char **argv)
{
    if (o->redis) {
        unsigned long long trips = redis_round_trips(o->redis);
        fprintf(stderr, "weft crawl: Redis: %llu round trips, %.2f per page fetched here\n", trips,
                r->pages ? (double)trips / (double)r->pages : 0.0);
    }
    if (r->error_text[0] && o->redis) {
        fprintf(stderr,
                "weft crawl: %s\nThe crawl stopped; this process's URLs return to the others "
                "when their leases end. Join again with:\n",
                r->error_text);
        print_command(stderr, argc, argv);
    } else if (r->error_text[0]) {
        fprintf(stderr,
                "weft crawl: --state %s: %s\n"
                "The crawl stopped; the file holds everything committed before. When that is "
                "fixed, resume with:\n",
                o->state_path, r->error_text);
        print_command(stderr, argc, argv);
    } else if (r->interrupted && o->redis) {
        fprintf(stderr,
                "weft crawl: stopped; this process's URLs went back to the shared crawl. Join "
                "it again with:\n");
        print_command(stderr, argc, argv);
    } else if (r->interrupted) {
        fprintf(stderr, "weft crawl: stopped; the crawl is saved in %s. Resume it with:\n",
                o->state_path);
        print_command(stderr, argc, argv);
    }
}

typedef struct dumper {
    crawl_record_fn *fn;
    void *ud;
    crawl_result *tot;
} dumper;

static void dump_record(void *ud, const crawl_record *r)
{
    dumper *d = ud;
    crawl_result_count(d->tot, r);
    d->fn(d->ud, r);
}

static int redis_print(crawl_opts *o, dumper *d)
{
    char name[700], err[512];
    identity id = {0};
    if (!o->crawl_id && identity_make(&id, o, "weft") != 0) {
        fprintf(stderr, "weft crawl: '%s' is not an http(s) URL\n", o->start_url);
        return 2;
    }
    char product[64]; /* id points at it: it lives as long as id */
    if (!o->crawl_id) {
        /* The identity's robots token must be the one the crawl used. */
        free(id.url);
        if (o->robots_agent)
            snprintf(product, sizeof product, "%s", o->robots_agent);
        else
            robots_product_token(o->user_agent, product, sizeof product);
        identity_make(&id, o, product);
    }
    int rc = redis_prefix(o, &id);
    free(id.url);
    if (rc == 0)
        rc = redis_connect(o, name, sizeof name);
    if (rc != 0)
        return rc;
    char key[400];
    snprintf(key, sizeof key, "%smeta", o->redis_prefix);
    const char *ex[] = {"EXISTS", key};
    redisReply *r = redis_argv(o->redis, 2, ex, NULL, err, sizeof err);
    if (!r || r->type != REDIS_REPLY_INTEGER || r->integer != 1) {
        fprintf(stderr, "weft crawl: Redis at %s: no crawl under %s%s%s\n", name, o->redis_prefix,
                r ? "" : ": ", r ? "" : err);
        freeReplyObject(r);
        redis_pool_free(o->redis);
        o->redis = NULL;
        return 2;
    }
    freeReplyObject(r);
    snprintf(key, sizeof key, "%srec", o->redis_prefix);
    int status = 0;
    for (long long start = 0;; start += 1000) {
        char a[32], b[32];
        snprintf(a, sizeof a, "%lld", start);
        snprintf(b, sizeof b, "%lld", start + 999);
        const char *argv[] = {"LRANGE", key, a, b};
        r = redis_argv(o->redis, 4, argv, NULL, err, sizeof err);
        if (!r || r->type != REDIS_REPLY_ARRAY) {
            fprintf(stderr, "weft crawl: Redis at %s: %s\n", name, r ? "not a list" : err);
            freeReplyObject(r);
            status = 1;
            break;
        }
        for (size_t i = 0; i < r->elements; i++)
            if (r->element[i]->type == REDIS_REPLY_STRING)
                record_unpack(r->element[i]->str, r->element[i]->len, dump_record, d);
        size_t n = r->elements;
        freeReplyObject(r);
        if (n < 1000)
            break;
    }
    redis_pool_free(o->redis);
    o->redis = NULL;
    /* The per-depth times come from many processes' clocks: not a span. */
    for (size_t i = 0; i < d->tot->nlevels; i++)
        d->tot->levels[i].first = d->tot->levels[i].last = 0;
    return status;
}

int crawl_state_print(const crawl_opts *o, crawl_record_fn *fn, void *ud, crawl_result *tot)
{
    if (redis_is_url(o->state_path)) {
        dumper d = {fn, ud, tot};
        crawl_opts copy = *o;
        return redis_print(&copy, &d);
    }
    state_info info;
    char err[512];
    crawl_state *st = NULL;
    int rc = crawl_state_open(&st, o->state_path, NULL, 0, false, &info, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "weft crawl: --state %s: %s\n", o->state_path, err);
        return 2;
    }
    dumper d = {fn, ud, tot};
    rc = crawl_state_dump(st, dump_record, &d, err, sizeof err);
    crawl_state_close(st);
    if (rc != 0) {
        fprintf(stderr, "weft crawl: --state %s: %s\n", o->state_path, err);
        return 1;
    }
    for (size_t i = 0; i < tot->nlevels; i++)
        tot->levels[i].first = tot->levels[i].last = 0;
    return 0;
}
