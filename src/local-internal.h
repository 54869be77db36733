/* local-internal.h: the hook thread.c uses to end a weft thread's
 * weft_local values before the thread counts as ended.
 *
 * DESIGN: local.c normally destroys a thread's values from a pthread key
 * destructor, which runs after the thread's start routine has returned. For
 * a weft thread that is too late: join() and the exit-time join must not
 * return while the thread's values are still to be destroyed (Python's
 * join() waits for threading.local values to go, and weft_local promises
 * destruction "when that thread ends"). So the weft thread runner calls this
 * first, while the thread is still alive to its joiners. */
#ifndef WEFT_LOCAL_INTERNAL_H
#define WEFT_LOCAL_INTERNAL_H

#include "base-internal.h"

/* Destroys the calling thread's values of every weft_local now (the same
 * work as the key destructor, which then finds nothing left). Runs user
 * destructors, with no weft lock held. */
void weft__local_thread_exit(void);

#endif
