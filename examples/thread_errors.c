/* Seeds: "Handle exceptions in threads properly: unhandled exceptions are
 * silently swallowed" and "ignoring exceptions in threads". In weft an error
 * is never swallowed. As Python calls threading.excepthook, a thread that
 * fails is reported to the unhandled-error hook (by default one line on
 * stderr naming the thread) as it ends; a thread started with collect_error
 * leaves its error to the joiner instead, and is reported only if nobody
 * reads it. */
#include "example.h"

static int risky_operation(void *arg, void **unused)
{
    return weft_fail(EINVAL, "Something went wrong in %s", (const char *)arg); /* "raise" */
}

static void log_to_stdout(const char *who, int code, const char *message, void *ud)
{
    printf("hook: unhandled error in %s: %s (%s)\n", who, message, weft_strerror(code));
}

int main(void)
{
    /* 1. Join, then inspect the error, as Python code stores exceptions. */
    weft_thread *t;
    weft_thread_opts o = {.name = "risky", .collect_error = true};
    TRY(weft_thread_start(&t, risky_operation, "step 1", &o));
    TRY(weft_thread_join(t, WEFT_FOREVER)); /* join itself succeeded... */
    const char *message;
    int code = weft_thread_error(t, &message); /* ...the thread failed */
    printf("%s failed: %s (%s)\n", weft_thread_name(t), message, weft_strerror(code));
    weft_thread_free(t);

    /* 2. Nobody handles the error: it surfaces through the hook as the
     * thread ends, even though the handle is kept (Python's excepthook). */
    weft_set_error_hook(log_to_stdout, NULL);
    weft_thread_opts f = {.name = "forgotten"};
    TRY(weft_thread_start(&t, risky_operation, "step 2", &f));
    TRY(weft_thread_join(t, WEFT_FOREVER)); /* the hook has run by now */
    printf("forgotten joined\n");
    weft_thread_free(t);

    /* 3. The same holds for a pool task whose future nobody looks at. */
    weft_executor *ex;
    weft_executor_opts eo = {.max_workers = 1};
    TRY(weft_executor_new(&ex, &eo));
    TRY(weft_executor_submit(ex, risky_operation, "step 3", NULL)); /* detached */
    weft_executor_free(ex);
    weft_set_error_hook(NULL, NULL);
    return 0;
}
