/* Seed: "Subclassing Thread for complex scenarios". C has no classes; the
 * pattern is a struct that carries the thread's inputs, its result and its
 * error, with the thread's run function taking the struct. */
#include "example.h"

struct worker_thread {
    weft_thread *thread;
    const char *worker_name;
    double delay;
    char result[64]; /* self.result */
};

static int run(void *arg, void **unused)
{
    struct worker_thread *w = arg;
    printf("Worker %s starting\n", w->worker_name);
    int rc = weft_sleep(w->delay);
    if (rc != 0)
        return weft_fail(rc, "%s interrupted", w->worker_name);
    snprintf(w->result, sizeof w->result, "Processed by %s", w->worker_name);
    printf("Worker %s finished\n", w->worker_name);
    return 0;
}

static int worker_start(struct worker_thread *w)
{
    weft_thread_opts opts = {.name = w->worker_name};
    return weft_thread_start(&w->thread, run, w, &opts);
}

int main(int argc, char **argv)
{
    double s = example_scale(argc, argv);
    struct worker_thread threads[2] = {{NULL, "Worker-1", 1 * s, ""},
                                       {NULL, "Worker-2", 2 * s, ""}};
    for (int i = 0; i < 2; i++)
        TRY(worker_start(&threads[i]));
    for (int i = 0; i < 2; i++) {
        TRY(weft_thread_join(threads[i].thread, WEFT_FOREVER));
        const char *msg;
        int err = weft_thread_error(threads[i].thread, &msg);
        if (err)
            printf("%s failed: %s\n", weft_thread_name(threads[i].thread), msg);
        else
            printf("Result: %s\n", threads[i].result);
        weft_thread_free(threads[i].thread);
    }
    return 0;
}
