/* args.h: command-line argument parsing shared by the weft subcommands. */
#ifndef WEFT_TOOL_ARGS_H
#define WEFT_TOOL_ARGS_H

#include <stdbool.h>
#include <stdio.h>

/* Parses non-negative seconds (at most 1e6) that fill the whole string.
 * Returns false, leaving *out alone, for anything else. */
bool args_seconds(const char *s, double *out);

/* Parses a decimal integer in [lo, hi] that fills the whole string (no sign,
 * no spaces). Returns false, leaving *out alone, for anything else. */
bool args_ull(const char *s, unsigned long long lo, unsigned long long hi, unsigned long long *out);
/* args_ull for an unsigned (hi must fit an unsigned). */
bool args_uint(const char *s, unsigned lo, unsigned hi, unsigned *out);

/* Writes "weft CMD: <fmt with arg>" and "Try 'weft CMD --help'." to err and
 * returns 2, the exit status of a usage error. */
int args_usage_error(FILE *err, const char *cmd, const char *fmt, const char *arg);

#endif
