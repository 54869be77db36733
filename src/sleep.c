/* sleep.c: weft_sleep, a sleep that a cancel request ends early. Apart from
 * clock.c because it sits above cancellation (cancel.c), which itself uses
 * clock.c's mutex and condvar helpers: keeping it there made clock.c and
 * cancel.c call each other. */
#include "cancel-internal.h"

#include <math.h>

int weft_sleep(double seconds)
{
    if (isnan(seconds) || seconds < 0)
        return EINVAL;
    weft__deadline dl;
    WEFT__CHECK(weft__deadline_init(&dl, seconds));
    /* A private condvar nobody signals but a cancel request. */
    pthread_mutex_t m;
    pthread_cond_t c;
    weft__mutex_init(&m);
    weft__cond_init(&c);
    int rc = 0;
    weft__cancel *tok = weft__wait_enter(&m, &c);
    weft__lock(&m);
    for (;;) {
        if (weft__wait_cancelled(tok)) {
            rc = ECANCELED;
            break;
        }
        if (weft__cond_wait(&c, &m, &dl) == ETIMEDOUT)
            break;
    }
    weft__unlock(&m);
    weft__wait_leave(tok);
    WEFT__CHECK(pthread_cond_destroy(&c));
    WEFT__CHECK(pthread_mutex_destroy(&m));
    return rc;
}
