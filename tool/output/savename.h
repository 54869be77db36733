/* savename.h: file names for `weft fetch -o DIR` that can never land outside
 * DIR, whatever the URL says.
 *
 * DESIGN: a URL path is hostile input. We decode it once, keep only its last
 * segment (after decoding, so "%2f" cannot smuggle a separator), map every
 * byte outside [A-Za-z0-9._-] to '_', never let the name start with '.'
 * ("." and ".." and hidden files are impossible), and cap it at
 * SAVENAME_MAX bytes with a hash of the full name as suffix, so two long
 * names that share a prefix stay distinct. The file is then created with
 * openat(dirfd, name, O_CREAT|O_EXCL|O_NOFOLLOW): never a symlink, never an
 * existing file; on a collision "-1", "-2"... is inserted before the
 * extension. A savename_dir remembers, per name, the next suffix to try, so
 * N URLs that all map to one name cost N creates, not N^2/2 probes. */
#ifndef WEFT_TOOL_SAVENAME_H
#define WEFT_TOOL_SAVENAME_H

#include <stddef.h>

/* The longest name we produce, in bytes, without the NUL. */
#define SAVENAME_MAX 200

/* Writes the safe base name for `url` into out (at least SAVENAME_MAX + 1
 * bytes). Never fails: a URL with no usable path gives "index.html". */
void savename_from_url(const char *url, char *out, size_t outsz);

/* Creates a new file for `url` in the directory `dirfd`, adding a suffix
 * while the name is taken. Stores the name used in `name` (SAVENAME_MAX + 1
 * bytes) and returns the open descriptor (O_WRONLY), or -errno. */
int savename_create(int dirfd, const char *url, char *name, size_t namesz);

/* The names made in one directory by one run, shared by its workers. */
typedef struct savename_dir savename_dir;

/* Returns 0 or ENOMEM. dirfd stays the caller's. */
int savename_dir_new(savename_dir **out, int dirfd);
void savename_dir_free(savename_dir *d); /* NULL-safe */

/* savename_create in d's directory, starting from the suffix after the last
 * one taken for the same name (files already there are still skipped: the
 * create is O_EXCL). Thread-safe; blocks only on other creates in d.
 * Returns the descriptor or -errno. */
int savename_dir_create(savename_dir *d, const char *url, char *name, size_t namesz);

#endif
