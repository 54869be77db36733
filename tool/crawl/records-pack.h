/* records-pack.h: a crawl record packed into one byte string and back: the
 * form the SQLite and Redis frontiers keep records in. */
#ifndef WEFT_TOOL_RECORDS_PACK_H
#define WEFT_TOOL_RECORDS_PACK_H

#include "crawl/crawl.h"

#include <stddef.h>

/* r packed in the binary form (records-pack.c): a version byte, then skip
 * name ("" for a page), url, parent, depth, then for pages the rest in
 * crawl_record order; strings length-prefixed, integers as varints, times
 * as their 64 bits. Returns it malloc'd (*len bytes), or NULL (no memory).
 * Does not block. */
char *record_pack(const crawl_record *r, size_t *len);

/* Calls fn with the record packed in (packed, len): the binary form, or the
 * text form ("len:bytes" fields) that the Redis scripts write for their
 * skip records and that earlier builds wrote. Returns 0, EINVAL (malformed,
 * fn not called) or ENOMEM. Does not block. */
int record_unpack(const char *packed, size_t len, crawl_record_fn *fn, void *ud);

#endif
