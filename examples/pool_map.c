/* Seeds: "ThreadPoolExecutor: the modern way". executor.map() gives results
 * in input order; submit() + as_completed() gives them as they finish, with
 * an error handled per task. Usage: pool_map [scale]. */
#include "example.h"

#include <string.h>

static double scale;

struct stock {
    const char *name;
    long price;
};

static int fetch_price(void *arg, void **result)
{
    struct stock *s = arg;
    int rc = weft_sleep(scale); /* pretend API call */
    if (rc != 0)
        return rc;
    *result = (void *)s->price;
    return 0;
}

struct page {
    const char *url;
    double seconds;
};

static int fetch_url(void *arg, void **result)
{
    struct page *p = arg;
    int rc = weft_sleep(p->seconds * scale);
    if (rc != 0)
        return rc;
    if (strstr(p->url, "broken"))
        return weft_fail(EIO, "GET %s: connection reset", p->url); /* "raise" */
    *result = (void *)(strlen(p->url) * 100);                      /* the "page size" */
    return 0;
}

int main(int argc, char **argv)
{
    scale = example_scale(argc, argv);
    weft_executor *executor;
    weft_executor_opts opts = {.max_workers = 3};
    TRY(weft_executor_new(&executor, &opts));

    /* map: results in the original order. */
    struct stock stocks[3] = {{"INFY", 1800}, {"TCS", 3900}, {"WIPRO", 450}};
    void *args[3] = {&stocks[0], &stocks[1], &stocks[2]}, *prices[3];
    double start = weft_monotonic();
    TRY(weft_executor_map(executor, fetch_price, args, 3, WEFT_FOREVER, prices, NULL));
    for (int i = 0; i < 3; i++)
        printf("%s: %ld\n", stocks[i].name, (long)prices[i]);
    printf("all 3 fetched in %.1f calls' time\n", (weft_monotonic() - start) / scale);

    /* submit + as_completed: handle each result as soon as it is ready. */
    struct page pages[4] = {{"https://example.com", 3},
                            {"https://github.com", 1},
                            {"https://broken.example", 2},
                            {"https://python.org", 4}};
    weft_future *futures[4];
    for (int i = 0; i < 4; i++)
        TRY(weft_executor_submit(executor, fetch_url, &pages[i], &futures[i]));
    weft_as_completed *it;
    TRY(weft_as_completed_new(&it, futures, 4, WEFT_FOREVER));
    weft_future *f;
    while (weft_as_completed_next(it, &f) == 0) {
        int i = 0;
        while (futures[i] != f)
            i++;
        void *size;
        const char *why;
        int rc = weft_future_result(f, 5.0, &size);
        if (rc == 0)
            printf("%s: %ld bytes\n", pages[i].url, (long)size);
        else if (rc == WEFT_EFAILED && weft_future_error(f, &why))
            printf("%s: Error - %s\n", pages[i].url, why);
        else
            printf("%s: %s\n", pages[i].url, weft_strerror(rc));
    }
    weft_as_completed_free(it);
    for (int i = 0; i < 4; i++)
        weft_future_unref(futures[i]);
    weft_executor_free(executor); /* waits, like leaving Python's `with` */
    return 0;
}
