/* site/dir.c: `weft serve --dir DIR`: a real tree of static files, served
 * with the site's latency, jitter, fault rates and request counters, so
 * crawlers can be judged on real HTML offline.
 *
 * DESIGN: the URL path (MHD has decoded %XX already) is hostile. A path
 * with a "." or ".." segment, a NUL, or a backslash is refused (404) before
 * any file system call; the remaining path is resolved with realpath, and
 * anything that does not land inside the root (a symlink pointing out) is
 * 403. Directories serve their index.html. Bodies are read whole (a
 * documentation page is kilobytes) and gzip-encoded for clients that
 * accept gzip, when the type is text. */
#include "site/site-impl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Largest file served: bigger ones are 403 (a test tree, not a file host). */
#define DIR_FILE_MAX (64u << 20)

static const struct {
    const char *ext, *type;
    bool text;
} types[] = {
    {".html", "text/html; charset=utf-8", true},
    {".htm", "text/html; charset=utf-8", true},
    {".css", "text/css", true},
    {".js", "text/javascript", true},
    {".json", "application/json", true},
    {".xml", "application/xml", true},
    {".svg", "image/svg+xml", true},
    {".txt", "text/plain; charset=utf-8", true},
    {".png", "image/png", false},
    {".jpg", "image/jpeg", false},
    {".jpeg", "image/jpeg", false},
    {".gif", "image/gif", false},
    {".ico", "image/x-icon", false},
    {".pdf", "application/pdf", false},
    {".woff", "font/woff", false},
    {".woff2", "font/woff2", false},
};

static void type_of(const char *path, const char **type, bool *text)
{
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    *type = "application/octet-stream";
    *text = false;
    if (!dot || (slash && dot < slash))
        return;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcasecmp(dot, types[i].ext) == 0) {
            *type = types[i].type;
            *text = types[i].text;
            return;
        }
}

/* Whether the decoded URL path may name a file under the root: absolute, no
 * "." or ".." segment, no NUL (MHD stops at one), no backslash. */
static bool path_ok(const char *url)
{
    if (url[0] != '/' || strchr(url, '\\'))
        return false;
    for (const char *seg = url + 1;;) {
        size_t n = strcspn(seg, "/");
        if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
            return false;
        if (seg[n] == '\0')
            return true;
        seg += n + 1;
    }
}

int site_dir_status(const char *root, const char *url, char *real, size_t realsz)
{
    real[0] = '\0';
    if (!path_ok(url))
        return 404;
    char joined[PATH_MAX];
    if ((size_t)snprintf(joined, sizeof joined, "%s%s", root, url) >= sizeof joined)
        return 404;
    char resolved[PATH_MAX];
    if (!realpath(joined, resolved))
        return errno == EACCES ? 403 : 404;
    size_t rl = strlen(root);
    if (strncmp(resolved, root, rl) != 0 || (resolved[rl] != '/' && resolved[rl] != '\0'))
        return 403; /* a symlink out of the tree */
    struct stat st;
    if (stat(resolved, &st) != 0)
        return 404;
    if (S_ISDIR(st.st_mode)) {
        if (url[strlen(url) - 1] != '/')
            return 301; /* relative links in its index need the slash */
        size_t n = strlen(resolved);
        if (n + sizeof "/index.html" > sizeof resolved)
            return 404;
        memcpy(resolved + n, "/index.html", sizeof "/index.html");
        char again[PATH_MAX];
        if (!realpath(resolved, again))
            return 404;
        if (strncmp(again, root, rl) != 0 || again[rl] != '/')
            return 403;
        snprintf(resolved, sizeof resolved, "%s", again);
        if (stat(resolved, &st) != 0)
            return 404;
    }
    if (!S_ISREG(st.st_mode))
        return 403;
    if (st.st_size > DIR_FILE_MAX)
        return 403;
    snprintf(real, realsz, "%s", resolved);
    return 200;
}

enum MHD_Result site_serve_dir(struct req *r, const char *url)
{
    char real[PATH_MAX];
    int status = site_dir_status(r->s->o.dir, url, real, sizeof real);
    if (status == 301) {
        char loc[PATH_MAX + 2];
        snprintf(loc, sizeof loc, "%s/", url);
        return site_answer_redirect(r, 301, loc);
    }
    if (status != 200)
        return site_answer_status(r, status);
    /* The fault rates apply to files as they do to /page/I. */
    uint64_t h = site_hash3(r->s->o.seed, H_ERR, site_mix(strlen(url) * 131 + (uint64_t)url[1]));
    for (const char *p = url; *p; p++)
        h = site_mix(h ^ (unsigned char)*p);
    if (site_unit(h) < r->s->o.error_rate)
        return site_answer_status(r, 500);
    int fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return site_answer_status(r, 404);
    struct sbuf b = {0};
    char chunk[65536];
    ssize_t n;
    while ((n = read(fd, chunk, sizeof chunk)) > 0)
        sbuf_put(&b, chunk, (size_t)n);
    close(fd);
    if (n < 0 || b.failed) {
        free(b.p);
        return site_answer_status(r, 500);
    }
    const char *type;
    bool text;
    type_of(real, &type, &text);
    return site_answer_file(r, type, &b, text);
}
