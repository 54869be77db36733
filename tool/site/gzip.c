/* site/gzip.c: compression in the embedded site: gzip-encoded answers for
 * clients that accept them (site_opts.gzip), and /bomb/N, a gzip bomb that
 * inflates to N MiB of zeros, generated as it is read so it costs the
 * server a z_stream, never N MiB. With these a client's decoding, its byte
 * counts and its --max-bytes on decoded bytes are tested offline. */
#include "site/site-impl.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Whether r's Accept-Encoding names gzip (a q=0 is not looked for: the
 * site's clients are weft and curl). */
static bool accepts_gzip(struct req *r)
{
    const char *ae =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING);
    return ae && strstr(ae, "gzip") != NULL;
}

bool site_gzip_wanted(struct req *r)
{
    return r->s->o.gzip && accepts_gzip(r);
}

bool site_gzip_accepted(struct req *r)
{
    return accepts_gzip(r);
}

int site_gzip_buf(struct sbuf *b)
{
    if (b->failed)
        return -1;
    z_stream z;
    memset(&z, 0, sizeof z);
    /* windowBits 15 + 16: a gzip header and trailer around the deflate data. */
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    uLong cap = deflateBound(&z, (uLong)b->len);
    char *out = malloc(cap ? cap : 1);
    if (!out) {
        deflateEnd(&z);
        return -1;
    }
    z.next_in = (Bytef *)(b->p ? b->p : "");
    z.avail_in = (uInt)b->len;
    z.next_out = (Bytef *)out;
    z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    size_t n = (size_t)(cap - z.avail_out);
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(out);
        return -1;
    }
    free(b->p);
    b->p = out;
    b->len = b->cap = n;
    return 0;
}

/* ---- /bomb/N ---- */

typedef struct bomb {
    z_stream z;
    uint64_t left; /* zeros still to feed the compressor */
    bool finished;
    struct req *r;
} bomb;

static const unsigned char zeros[65536];

static ssize_t bomb_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    bomb *bm = cls;
    if (bm->finished)
        return MHD_CONTENT_READER_END_OF_STREAM;
    bm->z.next_out = (Bytef *)buf;
    bm->z.avail_out = (uInt)(max > (1u << 30) ? (1u << 30) : max);
    while (bm->z.avail_out > 0 && !bm->finished) {
        if (bm->z.avail_in == 0 && bm->left > 0) {
            size_t n = bm->left < sizeof zeros ? (size_t)bm->left : sizeof zeros;
            bm->z.next_in = (Bytef *)zeros;
            bm->z.avail_in = (uInt)n;
            bm->left -= n;
        }
        int rc = deflate(&bm->z, bm->left == 0 && bm->z.avail_in == 0 ? Z_FINISH : Z_NO_FLUSH);
        if (rc == Z_STREAM_END)
            bm->finished = true;
        else if (rc != Z_OK && rc != Z_BUF_ERROR)
            return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    size_t n = (size_t)((char *)bm->z.next_out - buf);
    if (n == 0)
        return bm->finished ? MHD_CONTENT_READER_END_OF_STREAM : 0;
    site_count_answer(bm->r->s, -1, n, false);
    return (ssize_t)n;
}

static void bomb_free(void *cls)
{
    bomb *bm = cls;
    deflateEnd(&bm->z);
    free(bm);
}

enum MHD_Result site_serve_bomb(struct req *r, uint64_t mib)
{
    bomb *bm = calloc(1, sizeof *bm);
    if (!bm)
        return MHD_NO;
    if (deflateInit2(&bm->z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(bm);
        return MHD_NO;
    }
    bm->left = mib << 20;
    bm->r = r;
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, bomb_reader, bm, bomb_free);
    if (!resp) {
        bomb_free(bm);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/html");
    /* Sent whatever the client asked for: that is the attack. */
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    enum MHD_Result rc = MHD_queue_response(r->conn, 200, resp);
    MHD_destroy_response(resp);
    if (rc == MHD_YES)
        site_count_answer(r->s, 200, 0, false);
    return rc;
}
