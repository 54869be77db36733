/* Seed: "Real-World Example: Web Scraper with Speedup Measurement". The
 * seed's WebScraper class crawls a site breadth-first to depth 2, once page
 * by page and once on a pool of 5 workers, and prints the speedup.
 * Usage: web_scraper START_URL [workers]
 * (the test runs it against `weft serve --latency 0.05`, starting at /page/0).
 *
 * DESIGN: the Python pieces map one to one. requests.Session becomes one
 * libcurl easy handle per thread, kept in a weft_local (an easy handle must
 * not be used by two threads at once, and keeping it keeps its connections
 * alive, like a Session). BeautifulSoup becomes libxml2's forgiving HTML
 * parser; urljoin/urlparse become curl's URL API. The visited set and the
 * results dict are shared by the workers, so a weft_lock guards both
 * (Python's set and dict get away with the GIL; C does not).
 * ThreadPoolExecutor + as_completed are weft_executor_submit +
 * weft_as_completed. */
#include "example.h"

#include <curl/curl.h>
#include <libxml/HTMLparser.h>
#include <libxml/tree.h>

#include <ctype.h>
#include <string.h>
#include <strings.h>

#define MAX_DEPTH 2

/* One entry of self.results. */
struct page {
    char *url;
    char *title;
    long words;
    long status;
    int depth;
};

/* A (url, depth) pair: what scrape_page returns for the next level. */
struct link {
    char *url;
    int depth;
};

struct links {
    struct link *v;
    size_t n, cap;
};

struct scraper {
    const char *start_url;
    char *start_host; /* urlparse(start_url).netloc: host and port */
    unsigned max_workers;
    int max_depth;
    weft_local *session; /* this thread's CURL easy handle */
    weft_lock *lock;     /* guards visited and results */
    char **visited;
    size_t n_visited, cap_visited;
    struct page *results;
    size_t n_results, cap_results;
};

/* ------------------------------------------------------------- helpers */

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n);
    if (p == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    return p;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(xrealloc(NULL, n), s, n);
}

/* Appends to a vector of `size`-byte items, growing it by doubling. */
static void *grow(void *v, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return v;
    *cap = *cap ? 2 * *cap : 16;
    return xrealloc(v, *cap * size);
}

static void links_add(struct links *l, const char *url, int depth)
{
    l->v = grow(l->v, &l->cap, l->n, sizeof *l->v);
    l->v[l->n++] = (struct link){xstrdup(url), depth};
}

static void links_free(struct links *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].url);
    free(l->v);
    free(l);
}

/* A plain linear set: the demo site has a few dozen pages. Caller holds the lock. */
static bool visited_has(const struct scraper *s, const char *url)
{
    for (size_t i = 0; i < s->n_visited; i++)
        if (strcmp(s->visited[i], url) == 0)
            return true;
    return false;
}

/* ---------------------------------------------------- the "session" */

static int session_new(void *ud, void **value)
{
    (void)ud;
    CURL *h = curl_easy_init();
    if (h == NULL)
        return ENOMEM;
    curl_easy_setopt(h, CURLOPT_USERAGENT, "Mozilla/5.0 (weft Educational Scraper)");
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 5L);        /* requests' timeout=5 */
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L); /* requests follows redirects */
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);       /* we are multithreaded */
    *value = h;
    return 0;
}

static void session_free(void *ud, void *value)
{
    (void)ud;
    curl_easy_cleanup(value);
}

struct body {
    char *data;
    size_t len;
};

static size_t on_body(char *ptr, size_t size, size_t n, void *ud)
{
    struct body *b = ud;
    b->data = xrealloc(b->data, b->len + size * n + 1);
    memcpy(b->data + b->len, ptr, size * n);
    b->len += size * n;
    b->data[b->len] = '\0';
    return size * n;
}

/* urlparse(url).netloc, the part the same-domain filter compares. */
static char *netloc(const char *url)
{
    CURLU *u = curl_url();
    char *host = NULL, *port = NULL, *out = NULL;
    if (u != NULL && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
        curl_url_get(u, CURLUPART_PORT, &port, 0); /* absent: no port */
        out = xrealloc(NULL, strlen(host) + (port ? strlen(port) : 0) + 2);
        sprintf(out, "%s%s%s", host, port ? ":" : "", port ? port : "");
    }
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return out;
}

/* urljoin(base, href) without the fragment, or NULL for a link that is not
 * a web page (mailto:, javascript:, "#top"...). curl would resolve
 * "javascript:x" as a relative path, so schemes are checked first. */
static char *resolve(const char *base, const char *href)
{
    if (href[0] == '\0' || href[0] == '#')
        return NULL;
    size_t k = 0;
    while (isalnum((unsigned char)href[k]) || href[k] == '+' || href[k] == '-' || href[k] == '.')
        k++;
    if (k > 0 && href[k] == ':' && strncasecmp(href, "http:", 5) != 0 &&
        strncasecmp(href, "https:", 6) != 0)
        return NULL;
    CURLU *u = curl_url();
    char *joined = NULL, *out = NULL;
    if (u != NULL && curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_URL, href, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_URL, &joined, 0) == CURLUE_OK)
        out = xstrdup(joined);
    curl_free(joined);
    curl_url_cleanup(u);
    return out;
}

/* len(response.text.split()): whitespace-separated tokens of the body. */
static long count_words(const char *text, size_t len)
{
    long n = 0;
    bool in_word = false;
    for (size_t i = 0; i < len; i++) {
        bool space = isspace((unsigned char)text[i]) != 0;
        if (!space && !in_word)
            n++;
        in_word = !space;
    }
    return n;
}

/* soup.title.string: the first <title> element's text. */
static char *find_title(xmlNode *node)
{
    for (; node != NULL; node = node->next) {
        if (node->type == XML_ELEMENT_NODE && xmlStrcasecmp(node->name, BAD_CAST "title") == 0) {
            xmlChar *t = xmlNodeGetContent(node);
            char *out = xstrdup(t ? (const char *)t : "");
            xmlFree(t);
            return out;
        }
        char *t = find_title(node->children);
        if (t != NULL)
            return t;
    }
    return NULL;
}

/* soup.find_all('a', href=True), keeping same-host links not yet visited. */
static void find_links(struct scraper *s, xmlNode *node, const char *url, int depth,
                       struct links *out)
{
    for (; node != NULL; node = node->next) {
        if (node->type == XML_ELEMENT_NODE && xmlStrcasecmp(node->name, BAD_CAST "a") == 0) {
            xmlChar *href = xmlGetProp(node, BAD_CAST "href");
            char *next = href ? resolve(url, (const char *)href) : NULL;
            char *host = next ? netloc(next) : NULL;
            if (host != NULL && strcmp(host, s->start_host) == 0) {
                TRY(weft_lock_acquire(s->lock, WEFT_FOREVER));
                bool seen = visited_has(s, next);
                TRY(weft_lock_release(s->lock));
                if (!seen)
                    links_add(out, next, depth + 1);
            }
            free(host);
            free(next);
            xmlFree(href);
        }
        find_links(s, node->children, url, depth, out);
    }
}

/* ------------------------------------------------------------ the class */

static void record(struct scraper *s, const char *url, char *title, long words, long status,
                   int depth)
{
    TRY(weft_lock_acquire(s->lock, WEFT_FOREVER));
    s->results = grow(s->results, &s->cap_results, s->n_results, sizeof *s->results);
    s->results[s->n_results++] = (struct page){xstrdup(url), title, words, status, depth};
    TRY(weft_lock_release(s->lock));
}

/* Scrapes one page and returns the links of the next level. */
static struct links *scrape_page(struct scraper *s, const char *url, int depth)
{
    struct links *next = xrealloc(NULL, sizeof *next);
    *next = (struct links){0};

    /* "if depth > max_depth or url in visited: return []; visited.add(url)",
     * as one step under the lock so two workers cannot both claim a URL. */
    TRY(weft_lock_acquire(s->lock, WEFT_FOREVER));
    bool skip = depth > s->max_depth || visited_has(s, url);
    if (!skip) {
        s->visited = grow(s->visited, &s->cap_visited, s->n_visited, sizeof *s->visited);
        s->visited[s->n_visited++] = xstrdup(url);
    }
    TRY(weft_lock_release(s->lock));
    if (skip)
        return next;

    CURL *h;
    TRY(weft_local_get(s->session, (void **)&h));
    struct body body = {NULL, 0};
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    CURLcode cc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);

    char msg[CURL_ERROR_SIZE + 64];
    if (cc != CURLE_OK) { /* except requests.RequestException */
        snprintf(msg, sizeof msg, "Error: %s", errbuf[0] ? errbuf : curl_easy_strerror(cc));
        record(s, url, xstrdup(msg), 0, 0, depth);
    } else if (status >= 400) { /* response.raise_for_status() */
        snprintf(msg, sizeof msg, "Error: %ld for url: %s", status, url);
        record(s, url, xstrdup(msg), 0, 0, depth);
    } else {
        htmlDocPtr doc = htmlReadMemory(body.data ? body.data : "", (int)body.len, url, NULL,
                                        HTML_PARSE_RECOVER | HTML_PARSE_NOERROR |
                                            HTML_PARSE_NOWARNING | HTML_PARSE_NONET);
        xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
        char *title = find_title(root);
        record(s, url, title ? title : xstrdup("No title"), count_words(body.data, body.len),
               status, depth);
        if (depth < s->max_depth) /* extract links for the next level */
            find_links(s, root, url, depth, next);
        xmlFreeDoc(doc);
    }
    free(body.data);
    return next;
}

static void scrape_sequential(struct scraper *s)
{
    /* to_visit = [(start_url, 0)]; while to_visit: pop(0), scrape, extend */
    struct links to_visit = {0};
    links_add(&to_visit, s->start_url, 0);
    for (size_t i = 0; i < to_visit.n; i++) {
        struct links *next = scrape_page(s, to_visit.v[i].url, to_visit.v[i].depth);
        for (size_t k = 0; k < next->n; k++)
            links_add(&to_visit, next->v[k].url, next->v[k].depth);
        links_free(next);
    }
    for (size_t i = 0; i < to_visit.n; i++)
        free(to_visit.v[i].url);
    free(to_visit.v);
}

/* What one submitted task gets: executor.submit(self.scrape_page, url, depth). */
struct task {
    struct scraper *s;
    char *url;
    int depth;
    weft_future *future;
};

static int scrape_task(void *arg, void **result)
{
    struct task *t = arg;
    *result = scrape_page(t->s, t->url, t->depth);
    return 0;
}

static void scrape_threaded(struct scraper *s)
{
    weft_executor *ex;
    TRY(weft_executor_new(&ex, &(weft_executor_opts){.max_workers = s->max_workers}));

    /* futures = {future: (url, depth)}, as an array; visited is the main
     * thread's own set of URLs already submitted (only it reads it). */
    struct task **futures = NULL;
    size_t n = 0, cap = 0;
    struct links visited = {0};

    struct task *t = xrealloc(NULL, sizeof *t);
    *t = (struct task){s, xstrdup(s->start_url), 0, NULL};
    TRY(weft_executor_submit(ex, scrape_task, t, &t->future));
    futures = grow(futures, &cap, n, sizeof *futures);
    futures[n++] = t;

    while (n > 0) {
        /* for future in as_completed(futures): over the futures pending now;
         * the ones submitted meanwhile wait for the next round. */
        size_t round = n;
        weft_future **fs = xrealloc(NULL, round * sizeof *fs);
        for (size_t i = 0; i < round; i++)
            fs[i] = futures[i]->future;
        weft_as_completed *it;
        TRY(weft_as_completed_new(&it, fs, round, WEFT_FOREVER));
        weft_future *done;
        while (weft_as_completed_next(it, &done) == 0) {
            size_t i = 0; /* url, depth = futures.pop(future) */
            while (futures[i]->future != done)
                i++;
            struct task *d = futures[i];
            futures[i] = futures[--n];

            struct links *next;
            TRY(weft_future_result(done, WEFT_FOREVER, (void **)&next));
            for (size_t k = 0; k < next->n; k++) { /* submit new URLs */
                bool seen = false;
                for (size_t j = 0; j < visited.n && !seen; j++)
                    seen = strcmp(visited.v[j].url, next->v[k].url) == 0;
                if (seen)
                    continue;
                links_add(&visited, next->v[k].url, next->v[k].depth);
                t = xrealloc(NULL, sizeof *t);
                *t = (struct task){s, xstrdup(next->v[k].url), next->v[k].depth, NULL};
                TRY(weft_executor_submit(ex, scrape_task, t, &t->future));
                futures = grow(futures, &cap, n, sizeof *futures);
                futures[n++] = t;
            }
            links_free(next);
            weft_future_unref(d->future);
            free(d->url);
            free(d);
        }
        weft_as_completed_free(it);
        free(fs);
    }
    TRY(weft_executor_shutdown(ex, true, false)); /* leaving the with block */
    weft_executor_free(ex);
    free(futures);
    for (size_t i = 0; i < visited.n; i++)
        free(visited.v[i].url);
    free(visited.v);
}

static int by_url(const void *a, const void *b)
{
    return strcmp(((const struct page *)a)->url, ((const struct page *)b)->url);
}

static void print_results(struct scraper *s)
{
    printf("\nScraped %zu pages:\n", s->n_results);
    printf("------------------------------------------------------------\n");
    qsort(s->results, s->n_results, sizeof *s->results, by_url); /* sorted(items()) */
    for (size_t i = 0; i < s->n_results && i < 5; i++) {
        struct page *p = &s->results[i];
        printf("%s\n", p->url);
        printf(" Title: %.50s\n", p->title);
        printf(" Words: %ld, Status: %ld\n", p->words, p->status);
    }
}

/* results.clear(); visited.clear() */
static void clear(struct scraper *s)
{
    for (size_t i = 0; i < s->n_results; i++) {
        free(s->results[i].url);
        free(s->results[i].title);
    }
    for (size_t i = 0; i < s->n_visited; i++)
        free(s->visited[i]);
    s->n_results = s->n_visited = 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s START_URL [workers]\n", argv[0]);
        return 2;
    }
    struct scraper s = {.start_url = argv[1], .max_depth = MAX_DEPTH, .max_workers = 5};
    if (argc > 2 && atoi(argv[2]) > 0)
        s.max_workers = (unsigned)atoi(argv[2]);
    /* Both libraries set up their globals once, before any thread uses them. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;
    xmlInitParser();
    s.start_host = netloc(s.start_url);
    if (s.start_host == NULL) {
        fprintf(stderr, "%s: not a URL\n", s.start_url);
        return 2;
    }
    TRY(weft_lock_new(&s.lock));
    TRY(weft_local_new(&s.session, session_new, session_free, NULL));

    printf("Sequential scraping...\n");
    double start = weft_monotonic();
    scrape_sequential(&s);
    double seq_time = weft_monotonic() - start;
    size_t seq_pages = s.n_results;
    printf("Sequential: %.2fs, %zu pages\n", seq_time, seq_pages);
    clear(&s);

    printf("\nThreaded scraping...\n");
    start = weft_monotonic();
    scrape_threaded(&s);
    double threaded_time = weft_monotonic() - start;
    printf("Threaded: %.2fs, %zu pages\n", threaded_time, s.n_results);

    printf("\nSpeedup: %.1fx\n", seq_time / threaded_time);
    printf("Time saved: %.2fs\n", seq_time - threaded_time);
    print_results(&s);

    clear(&s);
    free(s.results);
    free(s.visited);
    free(s.start_host);
    weft_local_free(s.session); /* cleans up every thread's easy handle left */
    weft_lock_free(s.lock);
    xmlCleanupParser();
    curl_global_cleanup();
    return 0;
}
