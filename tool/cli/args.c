/* args.c: command-line argument parsing shared by the weft subcommands, so
 * every subcommand accepts and rejects numbers the same way. */
#include "cli/args.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

bool args_seconds(const char *s, double *out)
{
    char *end;
    errno = 0;
    /* strtod would accept leading spaces (and a sign, refused below). */
    if ((*s < '0' || *s > '9') && *s != '.')
        return false;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno != 0 || !isfinite(v) || v < 0 || v > 1e6)
        return false;
    *out = v;
    return true;
}

bool args_ull(const char *s, unsigned long long lo, unsigned long long hi, unsigned long long *out)
{
    char *end;
    errno = 0;
    /* strtoull would accept leading spaces and a minus sign. */
    if (*s < '0' || *s > '9')
        return false;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0' || errno != 0 || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

bool args_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
    unsigned long long v;
    if (!args_ull(s, lo, hi, &v))
        return false;
    *out = (unsigned)v;
    return true;
}

int args_usage_error(FILE *err, const char *cmd, const char *fmt, const char *arg)
{
    fprintf(err, "weft %s: ", cmd);
    fprintf(err, fmt, arg);
    fprintf(err, "\nTry 'weft %s --help'.\n", cmd);
    return 2;
}
