/* commands.h: the weft tool's subcommands. Each takes the arguments after its
 * own name (argv[0] is the subcommand) and returns the process exit status:
 * 0 success, 1 partial failure, 2 usage error. */
#ifndef WEFT_TOOL_COMMANDS_H
#define WEFT_TOOL_COMMANDS_H

int cmd_fetch(int argc, char **argv);
int cmd_crawl(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_demo(int argc, char **argv);

#endif
