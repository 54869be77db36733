/* Seeds: "Why CPU-bound code is different" and "the GIL". In Python, threads
 * do not speed up pure computation: one thread runs bytecode at a time. C has
 * no GIL: counting primes on one thread per core takes about 1/ncpu of the
 * time. Usage: cpu_bound [scale] (scale 1 counts primes below 4,000,000). */
#include "example.h"

#include <unistd.h>

struct range {
    long lo, hi;
};

static bool is_prime(long n)
{
    if (n < 2)
        return false;
    for (long d = 2; d * d <= n; d++)
        if (n % d == 0)
            return false;
    return true;
}

static int count_primes(void *arg, void **result)
{
    struct range *r = arg;
    long count = 0;
    for (long n = r->lo; n < r->hi; n++)
        count += is_prime(n);
    *result = (void *)count;
    return 0;
}

int main(int argc, char **argv)
{
    long limit = (long)(4000000 * example_scale(argc, argv));
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu < 1)
        ncpu = 1;
    enum { PARTS = 64 }; /* interleaved slices balance the uneven cost */
    struct range parts[PARTS];
    void *args[PARTS], *counts[PARTS];
    for (int i = 0; i < PARTS; i++) {
        parts[i].lo = limit * i / PARTS;
        parts[i].hi = limit * (i + 1) / PARTS;
        args[i] = &parts[i];
    }

    double start = weft_monotonic();
    long sequential = 0;
    for (int i = 0; i < PARTS; i++) {
        void *c;
        TRY(count_primes(args[i], &c));
        sequential += (long)c;
    }
    double t_seq = weft_monotonic() - start;

    weft_executor *ex;
    weft_executor_opts opts = {.max_workers = (unsigned)ncpu};
    TRY(weft_executor_new(&ex, &opts));
    start = weft_monotonic();
    TRY(weft_executor_map(ex, count_primes, args, PARTS, WEFT_FOREVER, counts, NULL));
    double t_par = weft_monotonic() - start;
    weft_executor_free(ex);
    long parallel = 0;
    for (int i = 0; i < PARTS; i++)
        parallel += (long)counts[i];

    printf("primes below %ld: %ld (sequential), %ld (threads)\n", limit, sequential, parallel);
    printf("sequential: %.2fs, %ld threads: %.2fs, speedup %.1fx on %ld cores\n", t_seq, ncpu,
           t_par, t_seq / t_par, ncpu);
    return sequential == parallel ? 0 : 1;
}
