/* args.h: the one command-line parser of the weft subcommands.
 *
 * DESIGN: in the spirit of curl's option table (src/tool_getparam.c). Each
 * subcommand describes its options once, in an array of args_opt: long
 * name, short letter, the kind of value, where it is stored, its range and
 * its help line. args_parse reads argv against that table and args_help
 * lays the help text out from the same table, so an option cannot be
 * accepted without being documented, or documented with another spelling.
 * Every kind of value has one parser here, so every subcommand accepts and
 * refuses numbers, sizes and durations the same way, and every refusal
 * names the option and the value:
 *
 *   weft crawl: --depth wants a whole number from 0 to 100000, not '2.5'
 *   Try 'weft crawl --help'.
 *
 * Syntax: "--name value", "--name=value", "-x value", "-xvalue", flags
 * clustered ("-qh"), "--" ends the options. Options and operands may be
 * mixed (operands keep their order). Nothing is allocated except by
 * ARGS_LIST options (args_list_free). */
#ifndef WEFT_TOOL_ARGS_H
#define WEFT_TOOL_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef enum args_kind {
    ARGS_FLAG,    /* bool *: set to true; takes no value */
    ARGS_UNFLAG,  /* bool *: set to false (a --no-X option); takes no value */
    ARGS_UINT,    /* unsigned *: a whole decimal number in [lo, hi] */
    ARGS_SIZE,    /* size_t *: a whole decimal number in [lo, hi] */
    ARGS_U64,     /* unsigned long long *: a whole decimal number in [lo, hi] */
    ARGS_BYTES,   /* long long *: a whole number with an optional K, M, G or T
                   * suffix (powers of 1024; "k" too), in [lo, hi] bytes */
    ARGS_SECONDS, /* double *: decimal seconds ("2", "0.25", "1e3") in
                   * [min, max]; with `above`, min itself is refused */
    ARGS_REAL,    /* double *: a decimal number in [min, max] (fractions, rates) */
    ARGS_STRING,  /* const char **: the value as given (points into argv) */
    ARGS_LIST,    /* args_list *: repeatable; each value appended */
    ARGS_HELP,    /* prints the help to `out`; args_parse returns 1 */
} args_kind;

/* The values of a repeatable option; they point into argv. */
typedef struct args_list {
    const char **v;
    size_t n;
} args_list;

typedef struct args_opt {
    const char *name; /* long name without "--" */
    char letter;      /* short option letter, or 0 */
    args_kind kind;
    void *dest;                /* where the value goes; the type follows the kind */
    unsigned long long lo, hi; /* integer kinds: the accepted range */
    double min, max;           /* ARGS_SECONDS, ARGS_REAL: the accepted range */
    bool above;                /* ARGS_SECONDS, ARGS_REAL: refuse min itself */
    const char *meta;          /* the value's name in the help ("N", "S", "FILE") */
    const char *help;          /* the help text; '\n' starts a continuation line */
} args_opt;

typedef struct args_spec {
    const char *cmd;      /* "crawl": for messages ("weft crawl: ...") */
    const char *head;     /* usage lines and description, before "options:" */
    const char *tail;     /* after the option list (paths, exit status); may be NULL */
    const args_opt *opts; /* the table */
    size_t nopts;
    size_t min_operands, max_operands; /* operands accepted (max SIZE_MAX: any) */
    const char *operand_name;          /* "URL": for "no URL given" */
} args_spec;

/* Parses argv[1..argc) (argv[0] is the subcommand's name) against sp,
 * storing each value where its option says. Operands are moved, in order,
 * to the front of argv + 1 .. and *noperands tells how many; the rest of
 * argv is left permuted. Returns 0 to run, 1 after --help was printed to
 * out, or 2 after a usage error was printed to err (one line naming the
 * option and the value, then "Try 'weft CMD --help'."). Destinations of
 * options that were not given are left alone, so callers fill defaults
 * first. ARGS_LIST destinations must start empty or hold earlier values
 * (they grow with realloc; free with args_list_free, also after an error). */
int args_parse(const args_spec *sp, int argc, char **argv, size_t *noperands, FILE *out, FILE *err);

/* Writes sp's help: head, "options:", one line (or more) per option laid
 * out from the table, then tail. */
void args_help(const args_spec *sp, FILE *out);

/* Frees a list's array (not its strings, which are argv's). NULL-safe. */
void args_list_free(args_list *l);

/* The value parsers args_parse uses, for the rare caller that needs one
 * alone. Each returns false, leaving *out alone, unless s is the whole of a
 * valid value in range. */

/* A whole decimal number in [lo, hi]: digits only: no sign, space, "0x",
 * decimal point or exponent. */
bool args_ull(const char *s, unsigned long long lo, unsigned long long hi, unsigned long long *out);
/* args_ull for an unsigned (hi must fit an unsigned). */
bool args_uint(const char *s, unsigned lo, unsigned hi, unsigned *out);
/* A decimal number (digits, one '.', an optional exponent "e3", "e-2") in
 * [min, max]: no sign, hexadecimal, "inf" or "nan". */
bool args_real(const char *s, double min, double max, double *out);
/* Non-negative seconds (at most 1e6): args_real(s, 0, 1e6). */
bool args_seconds(const char *s, double *out);
/* A byte count with an optional K/M/G/T suffix (1024-based) in [lo, hi]. */
bool args_bytes(const char *s, unsigned long long lo, unsigned long long hi, long long *out);

/* Writes "weft CMD: <fmt with arg>" and "Try 'weft CMD --help'." to err and
 * returns 2, the exit status of a usage error. */
int args_usage_error(FILE *err, const char *cmd, const char *fmt, const char *arg);

#endif
