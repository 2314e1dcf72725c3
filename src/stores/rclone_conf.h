/* A pure parser for rclone.conf (rclone's INI dialect): "[name]" sections of "key = value" lines,
 * '#' and ';' comment lines. Remote names keep their case; keys are matched exactly, as rclone
 * does. An encrypted rclone.conf ("RCLONE_ENCRYPT_V0:") is recognised, not decrypted. Fuzzed. */
#ifndef PERMAFROST_STORES_RCLONE_CONF_H
#define PERMAFROST_STORES_RCLONE_CONF_H

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

#define RCLONE_CONF_MAX_BYTES (4u << 20)

struct rclone_conf_entry {
    char *key;
    char *value;
};

struct rclone_conf_section {
    char *name;
    struct rclone_conf_entry *entries;
    size_t entry_count;
};

struct rclone_conf {
    struct rclone_conf_section *sections;
    size_t section_count;
    bool is_encrypted; /* the file is rclone's encrypted form; sections is then empty */
};

/* Parses text (origin names it in messages). Fails with ERR_CONFIG "ORIGIN:LINE: message" on a
 * line that is neither a section, a key = value, a comment nor blank. *out: rclone_conf_release
 * (also safe on a zeroed struct). */
int rclone_conf_parse(const char *origin, const char *text, size_t len, struct rclone_conf *out,
                      struct error *err);
void rclone_conf_release(struct rclone_conf *c);
/* The section named name (exact match), or NULL. */
const struct rclone_conf_section *rclone_conf_find(const struct rclone_conf *c, const char *name);
/* The value of key in section, or NULL when absent. */
const char *rclone_conf_get(const struct rclone_conf_section *s, const char *key);

/* The rclone.conf path to read: explicit (when not NULL), else $RCLONE_CONFIG, else
 * $XDG_CONFIG_HOME/rclone/rclone.conf, else $HOME/.config/rclone/rclone.conf. xfree. */
char *rclone_conf_default_path(const char *explicit_path);

/* Splits "NAME:path/in/remote" into *name and *path (both xfree; path may be ""). ERR_CONFIG when
 * there is no ':' or the name is empty or holds characters rclone does not allow. */
int rclone_remote_split(const char *remote, char **name, char **path, struct error *err);

#endif
