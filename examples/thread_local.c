/* Seed: "Thread-local storage: isolating data per thread". Each thread sees
 * its own request id and cache through one weft_local, with no locking; a
 * thread that never set a value gets a fresh one from the init function. */
#include "example.h"

#include <string.h>

struct request_ctx {
    long id;
    double cache[3];
};

static weft_local *thread_data;

static int make_ctx(void *ud, void **value)
{
    struct request_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return ENOMEM;
    c->id = -1; /* "not set here", Python's AttributeError */
    *value = c;
    return 0;
}

static void free_ctx(void *ud, void *value)
{
    free(value);
}

static int process_request(void *arg, void **unused)
{
    struct request_ctx *ctx;
    TRY(weft_local_get(thread_data, (void **)&ctx));
    ctx->id = (long)arg; /* each thread gets its own request id */
    for (int i = 0; i < 3; i++) {
        weft_sleep(0.001);
        ctx->cache[i] = (double)ctx->id * 10 + i;
    }
    /* Nobody else wrote to our context meanwhile. */
    bool mine = ctx->cache[0] == ctx->id * 10.0 && ctx->cache[2] == ctx->id * 10.0 + 2;
    printf("Thread %ld: cache = [%g, %g, %g] %s\n", ctx->id, ctx->cache[0], ctx->cache[1],
           ctx->cache[2], mine ? "(own)" : "(CORRUPT)");
    return mine ? 0 : EIO;
}

int main(void)
{
    TRY(weft_local_new(&thread_data, make_ctx, free_ctx, NULL));
    weft_thread *t[3];
    for (long i = 0; i < 3; i++)
        TRY(weft_thread_start(&t[i], process_request, (void *)i, NULL));
    for (int i = 0; i < 3; i++) {
        TRY(weft_thread_join(t[i], WEFT_FOREVER));
        TRY(weft_thread_error(t[i], NULL));
        weft_thread_free(t[i]);
    }
    struct request_ctx *mine;
    TRY(weft_local_get(thread_data, (void **)&mine));
    printf("Main thread's id: %ld (never set here)\n", mine->id);
    weft_local_free(thread_data);
    return 0;
}
