/* File-system helpers with the durability rules of DESIGN.md: atomic replacement is temp file,
 * fsync, rename, fsync of the directory. */
#ifndef PERMAFROST_UTIL_FS_H
#define PERMAFROST_UTIL_FS_H

#include <stdbool.h>
#include <stddef.h>

#include <sys/types.h>

#include "util/buf.h"
#include "util/error.h"

/* Creates path and its missing parents with `mode` (existing directories are left as they are). */
int fs_mkdir_p(const char *path, mode_t mode, struct error *err);
/* fsyncs the directory itself, so a rename or unlink inside it is durable. */
int fs_fsync_dir(const char *dir, struct error *err);
/* Writes data to path atomically with the given mode. */
int fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode, struct error *err);
/* The end of an atomic write into the temporary file tmp (open on fd): fsync and close fd (closed
 * whatever happens), rename tmp to path, fsync path's directory. On failure tmp is left for the
 * caller to unlink. */
int fs_finish_atomic(int fd, const char *tmp, const char *path, struct error *err);
/* Reads a whole file into out (appending), failing when it exceeds out's cap. */
int fs_read_file(const char *path, struct buf *out, struct error *err);
/* write(2) until done, retrying on EINTR. */
int fs_write_all(int fd, const void *data, size_t len, const char *what, struct error *err);
/* Removes path; a directory is removed with everything under it. A missing path is not an error. */
int fs_remove_tree(const char *path, struct error *err);
/* Returns the directory part of path in a new string (free with xfree): "a/b/c" -> "a/b", "c" ->
 * ".". */
char *fs_dirname(const char *path);
/* True when path exists (any type). */
bool fs_exists(const char *path);

#endif
