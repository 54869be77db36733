/* fuzz-main.h: the plain-test side of the fuzz harnesses (fuzz-*.c).
 *
 * DESIGN: each harness defines LLVMFuzzerTestOneInput. Built with
 * -DWEFT_LIBFUZZER (cmake -DWEFT_FUZZ=ON, clang), libFuzzer drives it.
 * Otherwise it is an ordinary program or test that replays the seed inputs
 * in test/tool/fuzz-seeds/<name>/ and then a fixed number of deterministic
 * mutations of them (bit flips, byte insertions, truncations, splices of two
 * seeds), so every `make test` (and every sanitizer build) exercises the
 * parsers with hostile input, reproducibly. */
#ifndef WEFT_TEST_FUZZ_MAIN_H
#define WEFT_TEST_FUZZ_MAIN_H

#include <dirent.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#ifndef WEFT_LIBFUZZER

/* The input being run, so a crash handler or debugger can show it. */
static const uint8_t *fuzz_current;
static size_t fuzz_current_size;

static void fuzz_call(const uint8_t *data, size_t size)
{
    fuzz_current = data;
    fuzz_current_size = size;
    LLVMFuzzerTestOneInput(data, size);
}

/* On a failed invariant (abort) or crash, show the input, escaped. */
static void fuzz_on_crash(int sig)
{
    fprintf(stderr, "fuzz: failing input (%zu bytes): \"", fuzz_current_size);
    for (size_t i = 0; i < fuzz_current_size; i++) {
        uint8_t c = fuzz_current[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            fputc(c, stderr);
        else
            fprintf(stderr, "\\x%02x", c);
    }
    fputs("\"\n", stderr);
    signal(sig, SIG_DFL);
    raise(sig);
}

typedef struct fuzz_input {
    uint8_t *data;
    size_t size;
} fuzz_input;

static uint8_t *fuzz_read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    size_t k;
    while (buf && (k = fread(buf + n, 1, cap - n, f)) > 0) {
        n += k;
        if (n == cap) {
            uint8_t *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                buf = NULL;
            }
            buf = nb;
        }
    }
    fclose(f);
    *size = n;
    return buf;
}

/* Loads every regular file of dir. Returns the number loaded (0 if none). */
static size_t fuzz_load_dir(const char *dir, fuzz_input **out)
{
    DIR *d = opendir(dir);
    *out = NULL;
    if (!d)
        return 0;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096 + 256];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= sizeof path)
            continue;
        size_t size;
        uint8_t *data = fuzz_read_file(path, &size);
        if (!data)
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            fuzz_input *v = realloc(*out, cap * sizeof *v);
            if (!v) {
                free(data);
                break;
            }
            *out = v;
        }
        (*out)[n++] = (fuzz_input){data, size};
    }
    closedir(d);
    return n;
}

static uint64_t fuzz_rand(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* Replays the seeds of dir, then `rounds` mutations. Returns the number of
 * seeds (the caller checks there were some). The mutations are the same on
 * every run: a failure is reproducible. */
static size_t fuzz_replay(const char *dir, unsigned rounds)
{
    fuzz_input *in;
    size_t n = fuzz_load_dir(dir, &in);
    /* WEFT_FUZZ_ROUNDS=N runs longer, for a deeper look by hand. */
    const char *env = getenv("WEFT_FUZZ_ROUNDS");
    if (env && atoi(env) > 0)
        rounds = (unsigned)atoi(env);
    signal(SIGABRT, fuzz_on_crash);
    signal(SIGSEGV, fuzz_on_crash);
    for (size_t i = 0; i < n; i++)
        fuzz_call(in[i].data, in[i].size);
    uint64_t x = 0x2545f4914f6cdd1dull;
    for (unsigned r = 0; r < rounds && n > 0; r++) {
        const fuzz_input *a = &in[fuzz_rand(&x) % n], *b = &in[fuzz_rand(&x) % n];
        size_t cap = a->size + b->size + 16;
        uint8_t *m = malloc(cap);
        if (!m)
            break;
        memcpy(m, a->data, a->size);
        size_t len = a->size;
        unsigned edits = 1 + (unsigned)(fuzz_rand(&x) % 8);
        for (unsigned e = 0; e < edits; e++) {
            uint64_t v = fuzz_rand(&x);
            switch (v % 5) {
            case 0: /* flip a bit */
                if (len)
                    m[(v >> 8) % len] ^= (uint8_t)(1u << ((v >> 4) & 7));
                break;
            case 1: /* an interesting byte */
                if (len) {
                    static const uint8_t bytes[] = {0,   '<', '>',  '"',  '/',  '*', '$', '%',
                                                    ':', '#', '\n', 0xff, 0xc3, '&', '?', '.'};
                    m[(v >> 8) % len] = bytes[(v >> 40) % sizeof bytes];
                }
                break;
            case 2: /* truncate */
                if (len)
                    len = (size_t)((v >> 8) % len);
                break;
            case 3: /* splice the tail of b */
                if (b->size && len + 8 < cap) {
                    size_t from = (size_t)((v >> 8) % b->size);
                    size_t k = b->size - from;
                    if (len + k > cap)
                        k = cap - len;
                    memcpy(m + len, b->data + from, k);
                    len += k;
                }
                break;
            case 4: /* duplicate a byte */
                if (len && len < cap) {
                    size_t at = (size_t)((v >> 8) % len);
                    memmove(m + at + 1, m + at, len - at);
                    len++;
                }
                break;
            }
        }
        fuzz_call(m, len);
        free(m);
    }
    for (size_t i = 0; i < n; i++)
        free(in[i].data);
    free(in);
    return n;
}

/* The seed directory next to this source file (CMake compiles with
 * absolute paths). */
static void fuzz_seed_dir(char *buf, size_t n, const char *file, const char *name)
{
    const char *slash = strrchr(file, '/');
    int len = slash ? (int)(slash - file) : 1;
    snprintf(buf, n, "%.*s/fuzz-seeds/%s", len, slash ? file : ".", name);
}

#ifndef WEFT_FUZZ_AS_TEST
/* `fuzz-NAME FILE...`: replays the given inputs (crash reproduction). */
int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        size_t size;
        uint8_t *data = fuzz_read_file(argv[i], &size);
        if (!data) {
            perror(argv[i]);
            return 1;
        }
        LLVMFuzzerTestOneInput(data, size);
        free(data);
    }
    return 0;
}
#endif

#endif /* WEFT_LIBFUZZER */
#endif
