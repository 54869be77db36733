/* weft.h: the umbrella header of libweft, Python's threading, queue and
 * concurrent.futures for C. Each module also has its own header under weft/.
 * Conventions (errors, timeouts, ownership): docs/guide.md and weft/error.h. */
#ifndef WEFT_H
#define WEFT_H

#include "weft/common.h"
#include "weft/error.h"
#include "weft/clock.h"
#include "weft/thread.h"
#include "weft/local.h"
#include "weft/lock.h"
#include "weft/rlock.h"
#include "weft/sem.h"
#include "weft/event.h"
#include "weft/cond.h"
#include "weft/barrier.h"
#include "weft/deadlock.h"
#include "weft/timer.h"
#include "weft/queue.h"
#include "weft/simplequeue.h"
#include "weft/deque.h"
#include "weft/future.h"
#include "weft/executor.h"
#include "weft/group.h"

#endif
