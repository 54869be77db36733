/* hostlimit.c: per-host concurrency limit and global rate limit for
 * `weft fetch`, on weft_lock and weft_cond.
 *
 * DESIGN: see hostlimit.h. One lock, so no lock order to keep. Leaving
 * notifies all waiters: they may wait on different hosts, and a waiter whose
 * host is still full simply waits again; with the few dozen waiters of a
 * fetch run that costs less than a condition per host would. */
#include "http/hostlimit.h"

#include <weft.h>

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

typedef struct host_entry {
    struct host_entry *next;
    unsigned active, waiting;
    char name[];
} host_entry;

struct hostlimit {
    unsigned per_host;
    double interval; /* 1 / rate, or 0 */
    double next_start;
    atomic_bool *stop;
    weft_lock *lock;
    weft_cond *cond;
    host_entry *hosts; /* guarded by lock */
    unsigned peak;     /* guarded by lock */
};

#define SLICE 0.1

static bool stopped(atomic_bool *stop)
{
    return (stop && atomic_load(stop)) || weft_cancelled();
}

int hostlimit_sleep(double seconds, atomic_bool *stop)
{
    double end = weft_monotonic() + seconds;
    for (;;) {
        if (stopped(stop))
            return ECANCELED;
        double left = end - weft_monotonic();
        if (left <= 0)
            return 0;
        if (weft_sleep(left < SLICE ? left : SLICE) == ECANCELED)
            return ECANCELED;
    }
}

int hostlimit_new(hostlimit **out, unsigned per_host, double rate, atomic_bool *stop)
{
    hostlimit *h = calloc(1, sizeof *h);
    if (!h)
        return ENOMEM;
    h->per_host = per_host;
    h->interval = rate > 0 ? 1.0 / rate : 0;
    h->stop = stop;
    h->next_start = weft_monotonic();
    int rc = weft_lock_new(&h->lock);
    if (rc == 0)
        rc = weft_cond_new(&h->cond, h->lock);
    if (rc != 0) {
        hostlimit_free(h);
        return rc;
    }
    *out = h;
    return 0;
}

void hostlimit_free(hostlimit *h)
{
    if (!h)
        return;
    while (h->hosts) {
        host_entry *e = h->hosts;
        h->hosts = e->next;
        free(e);
    }
    weft_cond_free(h->cond);
    weft_lock_free(h->lock);
    free(h);
}

static host_entry *find(hostlimit *h, const char *host, host_entry ***link)
{
    for (host_entry **p = &h->hosts; *p; p = &(*p)->next) {
        if (strcmp((*p)->name, host) == 0) {
            if (link)
                *link = p;
            return *p;
        }
    }
    return NULL;
}

static void drop_if_idle(hostlimit *h, const char *host)
{
    host_entry **link;
    host_entry *e = find(h, host, &link);
    if (e && e->active == 0 && e->waiting == 0) {
        *link = e->next;
        free(e);
    }
}

/* The per-host part; the caller holds h->lock. */
static int take_slot(hostlimit *h, const char *host)
{
    host_entry *e = find(h, host, NULL);
    if (!e) {
        size_t n = strlen(host) + 1;
        e = calloc(1, sizeof *e + n);
        if (!e)
            return ENOMEM;
        memcpy(e->name, host, n);
        e->next = h->hosts;
        h->hosts = e;
    }
    e->waiting++;
    int rc = 0;
    while (h->per_host && e->active >= h->per_host) {
        if (stopped(h->stop)) {
            rc = ECANCELED;
            break;
        }
        rc = weft_cond_wait(h->cond, SLICE);
        if (rc == ETIMEDOUT)
            rc = 0;
        else if (rc != 0)
            break; /* ECANCELED: the lock is held again */
    }
    e->waiting--;
    if (rc == 0) {
        e->active++;
        if (e->active > h->peak)
            h->peak = e->active;
    } else {
        drop_if_idle(h, host);
    }
    return rc;
}

int hostlimit_enter(hostlimit *h, const char *host)
{
    int rc = weft_lock_acquire(h->lock, WEFT_FOREVER);
    if (rc != 0)
        return rc;
    rc = take_slot(h, host);
    double start = 0;
    if (rc == 0 && h->interval > 0) {
        double now = weft_monotonic();
        start = h->next_start > now ? h->next_start : now;
        h->next_start = start + h->interval;
    }
    weft_lock_release(h->lock);
    if (rc == 0 && start > 0) {
        double wait = start - weft_monotonic();
        if (wait > 0 && hostlimit_sleep(wait, h->stop) != 0) {
            hostlimit_leave(h, host);
            return ECANCELED;
        }
    }
    return rc;
}

void hostlimit_leave(hostlimit *h, const char *host)
{
    /* Leaving must not fail, even in a cancelled task: retry the acquire
     * (ECANCELED returns at once) until the lock is ours. */
    while (weft_lock_acquire(h->lock, WEFT_FOREVER) != 0)
        sched_yield();
    host_entry *e = find(h, host, NULL);
    if (e && e->active > 0) {
        e->active--;
        bool waiters = e->waiting > 0;
        drop_if_idle(h, host);
        if (waiters)
            weft_cond_notify_all(h->cond);
    }
    weft_lock_release(h->lock);
}

unsigned hostlimit_peak(hostlimit *h)
{
    unsigned p = 0;
    if (weft_lock_acquire(h->lock, WEFT_FOREVER) == 0) {
        p = h->peak;
        weft_lock_release(h->lock);
    }
    return p;
}
