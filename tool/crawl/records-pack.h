/* records-pack.h: a crawl record packed into one byte string and back: the
 * form the SQLite and Redis frontiers keep records in. */
#ifndef WEFT_TOOL_RECORDS_PACK_H
#define WEFT_TOOL_RECORDS_PACK_H

#include "crawl/crawl.h"

#include <stddef.h>

/* r packed: "len:bytes" fields: skip name ("" for a page), url, parent,
 * depth, then for pages the rest in crawl_record order (error as "1" +
 * text, or "0"). Returns it malloc'd (*len bytes), or NULL (no memory). */
char *record_pack(const crawl_record *r, size_t *len);

/* Calls fn with the record packed in (packed, len). Returns 0, EINVAL
 * (malformed) or ENOMEM. */
int record_unpack(const char *packed, size_t len, crawl_record_fn *fn, void *ud);

#endif
