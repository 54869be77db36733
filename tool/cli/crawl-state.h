/* cli/crawl-state.h: the command-line side of `weft crawl --state FILE`
 * (see crawl/state.h for the file itself). */
#ifndef WEFT_TOOL_CLI_CRAWL_STATE_H
#define WEFT_TOOL_CLI_CRAWL_STATE_H

#include "crawl/crawl.h"
#include "crawl/state.h"

/* Opens o->state_path for o's crawl (product: the robots.txt token) and
 * sets o->state. Returns -1 to go on crawling (having said "resuming: ..."
 * when the file held a crawl), or an exit status: 0 the crawl in the file
 * is complete (said so), 2 the file was refused (said why, untouched). */
int crawl_state_begin(crawl_opts *o, const char *product);

/* Replaces *tot's counts with the whole crawl's, from every record in st
 * (keeping this run's wall, CPU, interruption and error). Returns 0 or
 * EIO (said on stderr, *tot unchanged). */
int crawl_state_totals(crawl_state *st, crawl_result *tot);

/* After a run that stopped (Ctrl-C, or the file failed): says why and the
 * exact command (argv, argc of them) that resumes. */
void crawl_state_end(const crawl_opts *o, const crawl_result *r, int argc, char **argv);

/* --dump: calls fn for every record in o->state_path, counting them into
 * *tot. Returns 0, 1 (the file could not be read to its end), or 2 (the
 * file was refused); says why on stderr. */
int crawl_state_print(const crawl_opts *o, crawl_record_fn *fn, void *ud, crawl_result *tot);

#endif
