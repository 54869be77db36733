/* cancel.c: cooperative cancellation tokens; the protocol is in cancel-internal.h.
 *
 * Lock order: tok->mu, then the registered primitive mutex. */
#include "cancel-internal.h"

static _Thread_local weft__cancel *current;

_Thread_local uint64_t weft__self_id_;
static atomic_uint_fast64_t next_id = 1;

uint64_t weft__self_id_slow(void)
{
    weft__self_id_ = atomic_fetch_add(&next_id, 1);
    return weft__self_id_;
}

void weft__cancel_init(weft__cancel *tok)
{
    atomic_init(&tok->requested, false);
    weft__mutex_init(&tok->mu);
    tok->m = NULL;
    tok->c = NULL;
}

void weft__cancel_destroy(weft__cancel *tok)
{
    WEFT__CHECK(pthread_mutex_destroy(&tok->mu));
}

void weft__cancel_request(weft__cancel *tok)
{
    atomic_store_explicit(&tok->requested, true, memory_order_release);
    weft__lock(&tok->mu);
    if (tok->m) {
        /* Taking m orders this wakeup after the waiter's check of the flag. */
        weft__lock(tok->m);
        WEFT__CHECK(pthread_cond_broadcast(tok->c));
        weft__unlock(tok->m);
    }
    weft__unlock(&tok->mu);
}

weft__cancel *weft__cancel_swap(weft__cancel *tok)
{
    weft__cancel *old = current;
    current = tok;
    return old;
}

weft__cancel *weft__cancel_current(void)
{
    return current;
}

bool weft_cancelled(void)
{
    weft__cancel *tok = current;
    return tok && atomic_load_explicit(&tok->requested, memory_order_acquire);
}

weft__cancel *weft__wait_enter(pthread_mutex_t *m, pthread_cond_t *c)
{
    weft__cancel *tok = current;
    if (!tok)
        return NULL;
    weft__lock(&tok->mu);
    tok->m = m;
    tok->c = c;
    weft__unlock(&tok->mu);
    return tok;
}

void weft__wait_leave(weft__cancel *tok)
{
    if (!tok)
        return;
    weft__lock(&tok->mu);
    tok->m = NULL;
    tok->c = NULL;
    weft__unlock(&tok->mu);
}
