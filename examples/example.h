/* example.h: the one helper every example shares. In Python an error raises;
 * in C each weft call returns 0 or an error code, and an example that cannot
 * go on says why and exits. */
#ifndef WEFT_EXAMPLE_H
#define WEFT_EXAMPLE_H

#include <weft.h>

#include <stdio.h>
#include <stdlib.h>

#define TRY(call)                                                                                  \
    do {                                                                                           \
        int try_rc_ = (call);                                                                      \
        if (try_rc_ != 0) {                                                                        \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, weft_strerror(try_rc_)); \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* Examples simulate I/O with weft_sleep; their first argument scales every
 * delay, so the test suite can run them faster than the seeds' seconds. */
static inline double example_scale(int argc, char **argv)
{
    double s = argc > 1 ? atof(argv[1]) : 1.0;
    return s > 0 ? s : 1.0;
}

#endif
