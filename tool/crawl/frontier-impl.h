/* frontier-impl.h: the frontier interface's ops table, for the backends
 * (frontier-memory.c, frontier-sqlite.c) and the dispatch (frontier.c).
 * Each verb is what the frontier_* function of the same name promises. */
#ifndef WEFT_TOOL_FRONTIER_IMPL_H
#define WEFT_TOOL_FRONTIER_IMPL_H

#include "crawl/frontier.h"

typedef struct frontier_ops {
    void (*free)(frontier *f);
    int (*seed)(frontier *f, const char *url);
    int (*next)(frontier *f, frontier_item *it);
    int (*add_links)(frontier *f, frontier_item *it, frontier_link *links, size_t n);
    frontier_claim_result (*claim)(frontier *f, frontier_item *it, const char *url);
    bool (*mark)(frontier *f, frontier_item *it, const char *s);
    int (*records)(frontier *f, frontier_item *it, const crawl_record *recs, size_t n);
    void (*page_done)(frontier *f, frontier_item *it);
    void (*retry)(frontier *f, frontier_item *it, double delay);
    void (*giveback)(frontier *f, frontier_item *it);
    void (*skip_done)(frontier *f, frontier_item *it);
    void (*robots_done)(frontier *f, frontier_item *it, robots *rb, long status, const char *body,
                        size_t len);
    void (*stats)(frontier *f, frontier_stats *out);
    const char *(*error)(frontier *f);
} frontier_ops;

/* Every backend's frontier starts with this. */
struct frontier {
    const frontier_ops *ops;
};

#endif
