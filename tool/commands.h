/* commands.h: the weft tool's subcommands. Each takes the arguments after its
 * own name (argv[0] is the subcommand) and returns the process exit status:
 * 0 success, 1 partial failure, 2 usage error, 3 the results could not be
 * written (stdout, the summary's stream or a --trace file), 130 interrupted. */
#ifndef WEFT_TOOL_COMMANDS_H
#define WEFT_TOOL_COMMANDS_H

/* The exit status when results could not be written (a full disk, a closed
 * stream): distinct from a page's failure, since the run's record is lost. */
#define WEFT_EXIT_OUTPUT 3

int cmd_fetch(int argc, char **argv);
int cmd_crawl(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_demo(int argc, char **argv);

#endif
