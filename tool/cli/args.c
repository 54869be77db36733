/* args.c: the one command-line parser of the weft subcommands (see args.h). */
#include "cli/args.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ values */

bool args_ull(const char *s, unsigned long long lo, unsigned long long hi, unsigned long long *out)
{
    if (!s || *s < '0' || *s > '9')
        return false;
    unsigned long long v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        unsigned d = (unsigned)(*s - '0');
        if (v > (ULLONG_MAX - d) / 10)
            return false; /* overflow: out of any range */
        v = v * 10 + d;
    }
    if (v < lo || v > hi)
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

bool args_real(const char *s, double min, double max, double *out)
{
    if (!s)
        return false;
    /* strtod alone would take spaces, signs, "0x1p4", "inf" and "nan". */
    const char *p = s;
    size_t digits = 0;
    while (*p >= '0' && *p <= '9')
        p++, digits++;
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9')
            p++, digits++;
    }
    if (digits == 0)
        return false;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (*p < '0' || *p > '9')
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p != '\0')
        return false;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (*end != '\0' || errno == ERANGE || !isfinite(v) || !(v >= min && v <= max))
        return false;
    *out = v;
    return true;
}

bool args_seconds(const char *s, double *out)
{
    return args_real(s, 0, 1e6, out);
}

bool args_bytes(const char *s, unsigned long long lo, unsigned long long hi, long long *out)
{
    if (!s)
        return false;
    size_t n = strlen(s);
    unsigned shift = 0;
    if (n > 1) {
        switch (s[n - 1]) {
        case 'k':
        case 'K':
            shift = 10;
            break;
        case 'm':
        case 'M':
            shift = 20;
            break;
        case 'g':
        case 'G':
            shift = 30;
            break;
        case 't':
        case 'T':
            shift = 40;
            break;
        default:
            break;
        }
    }
    char digits[32];
    size_t nd = shift ? n - 1 : n;
    if (nd == 0 || nd >= sizeof digits)
        return false;
    memcpy(digits, s, nd);
    digits[nd] = '\0';
    unsigned long long v;
    if (!args_ull(digits, 0, ULLONG_MAX, &v) || v > (ULLONG_MAX >> shift))
        return false;
    v <<= shift;
    if (v < lo || v > hi || v > (unsigned long long)LLONG_MAX)
        return false;
    *out = (long long)v;
    return true;
}

int args_usage_error(FILE *err, const char *cmd, const char *fmt, const char *arg)
{
    fprintf(err, "weft %s: ", cmd);
    fprintf(err, fmt, arg);
    fprintf(err, "\nTry 'weft %s --help'.\n", cmd);
    return 2;
}

void args_list_free(args_list *l)
{
    if (!l)
        return;
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* ------------------------------------------------------------ errors */

static void try_help(const args_spec *sp, FILE *err)
{
    fprintf(err, "Try 'weft %s --help'.\n", sp->cmd);
}

/* "from 0 to 100000", "of at least 1" (when hi is the type's maximum). */
static void int_range(FILE *err, unsigned long long lo, unsigned long long hi, bool bytes)
{
    if (hi >= (unsigned long long)UINT32_MAX * 1024 || (!bytes && hi >= UINT32_MAX))
        fprintf(err, "of at least %llu", lo);
    else
        fprintf(err, "from %llu to %llu", lo, hi);
}

static int bad_value(const args_spec *sp, const args_opt *o, const char *typed, const char *value,
                     FILE *err)
{
    fprintf(err, "weft %s: %s wants ", sp->cmd, typed);
    switch (o->kind) {
    case ARGS_UINT:
    case ARGS_SIZE:
    case ARGS_U64:
        fputs("a whole number ", err);
        int_range(err, o->lo, o->hi, false);
        break;
    case ARGS_BYTES:
        fputs("a size in bytes (e.g. 4096, 512K, 10M, 1G) ", err);
        int_range(err, o->lo, o->hi, true);
        break;
    case ARGS_SECONDS:
        if (o->above)
            fprintf(err, "seconds (e.g. 2.5) above %.10g", o->min);
        else
            fprintf(err, "seconds (e.g. 2.5) from %.10g to %.10g", o->min, o->max);
        break;
    case ARGS_REAL:
        if (o->above)
            fprintf(err, "a number above %.10g", o->min);
        else
            fprintf(err, "a number from %.10g to %.10g", o->min, o->max);
        break;
    default:
        fputs("a value", err);
        break;
    }
    fprintf(err, ", not '%s'\n", value);
    try_help(sp, err);
    return 2;
}

/* ------------------------------------------------------------ parsing */

static bool takes_value(const args_opt *o)
{
    return o->kind != ARGS_FLAG && o->kind != ARGS_UNFLAG && o->kind != ARGS_HELP;
}

/* Stores value (NULL for kinds without one). Returns 0, 1 (help), 2. */
static int apply(const args_spec *sp, const args_opt *o, const char *typed, const char *value,
                 FILE *out, FILE *err)
{
    unsigned long long u;
    double d;
    long long ll;
    switch (o->kind) {
    case ARGS_FLAG:
        *(bool *)o->dest = true;
        return 0;
    case ARGS_UNFLAG:
        *(bool *)o->dest = false;
        return 0;
    case ARGS_HELP:
        args_help(sp, out);
        return 1;
    case ARGS_UINT:
        if (!args_ull(value, o->lo, o->hi, &u))
            return bad_value(sp, o, typed, value, err);
        *(unsigned *)o->dest = (unsigned)u;
        return 0;
    case ARGS_SIZE:
        if (!args_ull(value, o->lo, o->hi, &u))
            return bad_value(sp, o, typed, value, err);
        *(size_t *)o->dest = (size_t)u;
        return 0;
    case ARGS_U64:
        if (!args_ull(value, o->lo, o->hi, &u))
            return bad_value(sp, o, typed, value, err);
        *(unsigned long long *)o->dest = u;
        return 0;
    case ARGS_BYTES:
        if (!args_bytes(value, o->lo, o->hi, &ll))
            return bad_value(sp, o, typed, value, err);
        *(long long *)o->dest = ll;
        return 0;
    case ARGS_SECONDS:
    case ARGS_REAL:
        if (!args_real(value, o->min, o->max, &d) || (o->above && d <= o->min))
            return bad_value(sp, o, typed, value, err);
        *(double *)o->dest = d;
        return 0;
    case ARGS_STRING:
        *(const char **)o->dest = value;
        return 0;
    case ARGS_LIST: {
        args_list *l = o->dest;
        const char **nv = realloc(l->v, (l->n + 1) * sizeof *nv);
        if (!nv) {
            fprintf(err, "weft %s: out of memory\n", sp->cmd);
            return 2;
        }
        nv[l->n++] = value;
        l->v = nv;
        return 0;
    }
    }
    return 2;
}

static const args_opt *find_long(const args_spec *sp, const char *name, size_t len)
{
    for (size_t i = 0; i < sp->nopts; i++)
        if (strlen(sp->opts[i].name) == len && memcmp(sp->opts[i].name, name, len) == 0)
            return &sp->opts[i];
    return NULL;
}

static const args_opt *find_short(const args_spec *sp, char c)
{
    for (size_t i = 0; i < sp->nopts; i++)
        if (sp->opts[i].letter == c)
            return &sp->opts[i];
    return NULL;
}

static int unknown(const args_spec *sp, const char *arg, FILE *err)
{
    fprintf(err, "weft %s: unknown option '%s'\n", sp->cmd, arg);
    try_help(sp, err);
    return 2;
}

static int needs_value(const args_spec *sp, const char *typed, FILE *err)
{
    fprintf(err, "weft %s: option '%s' needs a value\n", sp->cmd, typed);
    try_help(sp, err);
    return 2;
}

int args_parse(const args_spec *sp, int argc, char **argv, size_t *noperands, FILE *out, FILE *err)
{
    size_t nops = 0;
    bool only_operands = false;
    int rc = 0;
    for (int i = 1; i < argc && rc == 0; i++) {
        char *a = argv[i];
        if (only_operands || a[0] != '-' || a[1] == '\0') { /* "-" is an operand (stdin) */
            argv[1 + nops++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_operands = true;
            continue;
        }
        if (a[1] == '-') {
            const char *name = a + 2, *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            const args_opt *o = find_long(sp, name, len);
            char typed[96];
            snprintf(typed, sizeof typed, "--%.*s", (int)(len < 64 ? len : 64), name);
            if (!o)
                return unknown(sp, typed, err);
            const char *value = NULL;
            if (takes_value(o)) {
                if (eq)
                    value = eq + 1;
                else if (i + 1 < argc)
                    value = argv[++i];
                else
                    return needs_value(sp, typed, err);
            } else if (eq) {
                fprintf(err, "weft %s: option '%s' takes no value\n", sp->cmd, typed);
                try_help(sp, err);
                return 2;
            }
            rc = apply(sp, o, typed, value, out, err);
            continue;
        }
        /* One or more short options: "-q", "-qh", "-j4", "-j 4". */
        for (const char *p = a + 1; *p && rc == 0; p++) {
            char typed[3] = {'-', *p, '\0'};
            const args_opt *o = find_short(sp, *p);
            if (!o)
                return unknown(sp, typed, err);
            if (!takes_value(o)) {
                rc = apply(sp, o, typed, NULL, out, err);
                continue;
            }
            const char *value;
            if (p[1])
                value = p + 1;
            else if (i + 1 < argc)
                value = argv[++i];
            else
                return needs_value(sp, typed, err);
            rc = apply(sp, o, typed, value, out, err);
            break;
        }
    }
    if (rc != 0)
        return rc;
    if (nops < sp->min_operands) {
        fprintf(err, "weft %s: no %s given\n", sp->cmd,
                sp->operand_name ? sp->operand_name : "operand");
        try_help(sp, err);
        return 2;
    }
    if (nops > sp->max_operands) {
        fprintf(err, "weft %s: unexpected argument '%s'\n", sp->cmd, argv[1 + sp->max_operands]);
        try_help(sp, err);
        return 2;
    }
    if (noperands)
        *noperands = nops;
    return 0;
}

/* ------------------------------------------------------------ help */

#define HELP_COLUMN 27

void args_help(const args_spec *sp, FILE *out)
{
    if (sp->head)
        fputs(sp->head, out);
    fputs("\noptions:\n", out);
    for (size_t i = 0; i < sp->nopts; i++) {
        const args_opt *o = &sp->opts[i];
        char left[96];
        int n;
        if (o->letter)
            n = snprintf(left, sizeof left, "  -%c, --%s", o->letter, o->name);
        else
            n = snprintf(left, sizeof left, "      --%s", o->name);
        if (takes_value(o) && o->meta && n > 0 && (size_t)n < sizeof left)
            snprintf(left + n, sizeof left - (size_t)n, " %s", o->meta);
        fputs(left, out);
        size_t used = strlen(left);
        const char *h = o->help ? o->help : "";
        if (used + 1 >= HELP_COLUMN) {
            fputc('\n', out);
            used = 0;
        }
        fprintf(out, "%*s", (int)(HELP_COLUMN - used), "");
        for (; *h; h++) {
            fputc(*h, out);
            if (*h == '\n' && h[1])
                fprintf(out, "%*s", HELP_COLUMN, "");
        }
        if (!o->help || o->help[strlen(o->help) - 1] != '\n')
            fputc('\n', out);
    }
    if (sp->tail) {
        fputc('\n', out);
        fputs(sp->tail, out);
    }
}
