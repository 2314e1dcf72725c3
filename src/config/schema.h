/* The one option table (Valkey's typed config table): every option of permafrost.conf with its
 * section, the store type or job kind it applies to, its type, default, bounds and help, and the
 * functions that parse a value into the typed structs of config.h and format it back. config.c
 * validates files and writes `config show` from it; docs/configuration.md documents the same
 * entries (a unit test checks that every option is there). */
#ifndef PERMAFROST_CONFIG_SCHEMA_H
#define PERMAFROST_CONFIG_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"
#include "util/error.h"

enum schema_section {
    SCHEMA_SECTION_GLOBAL = 0, /* [global]; fields of struct cfg_global */
    SCHEMA_SECTION_STORE,      /* [store "NAME"]; fields of struct cfg_store */
    SCHEMA_SECTION_JOB,        /* [job "NAME"]; fields of struct cfg_job */
    SCHEMA_SECTION_NOTIFY,     /* [notify "NAME"]; fields of struct cfg_notify */
};

enum schema_type {
    SCHEMA_STRING = 0,
    SCHEMA_INT,         /* within [min, max] */
    SCHEMA_BOOL,        /* yes/no/true/false/on/off/1/0, any case */
    SCHEMA_ENUM,        /* one of choices, any case; stored in its canonical (lowercase) spelling */
    SCHEMA_SECRET,      /* env:NAME, file:PATH or an inline value */
    SCHEMA_LIST,        /* comma-separated names, no empty item, no repeats */
    SCHEMA_KEEP,        /* a keep policy (config_parse_keep) */
    SCHEMA_COMPRESSION, /* zstd, zstd:LEVEL or zstd:LEVEL:THREADS; LEVEL within [min, max] */
    SCHEMA_CONNINFO,    /* a libpq conninfo (key=value or URI) that holds no password */
    SCHEMA_PATH,        /* an absolute path */
    SCHEMA_TIMEZONE,    /* "UTC" or an IANA name with a file under SCHEMA_ZONEINFO_DIR */
    SCHEMA_URL,         /* http:// or https:// with a host and optional port, nothing else */
    SCHEMA_BUCKET,      /* an S3 bucket name: 3-63 of [a-z0-9.-] */
    SCHEMA_PREFIX,      /* '/'-separated key segments; leading and trailing '/' stripped */
    SCHEMA_BYTES,       /* a size such as 16MiB, within [min, max] bytes */
    SCHEMA_DURATION,    /* a time such as 30s, 500ms, 2m; stored in ms within [min, max] */
    SCHEMA_RATE,        /* a positive decimal number, at most max */
    SCHEMA_REMOTE,      /* an rclone remote: NAME:path */
    SCHEMA_NAME,        /* [A-Za-z0-9_.-], 1 to SCHEMA_NAME_MAX (an S3 region) */
    SCHEMA_LOCATION,    /* STORE[:PREFIX]: a store name and a key prefix inside it */
    SCHEMA_GLOBS,    /* comma-separated glob patterns (a ',' inside [...] or after '\' is kept) */
    SCHEMA_LIMIT,    /* a count ("500") or a percentage ("10%", "0.5%") */
    SCHEMA_SCHEDULE, /* a cron expression (util/cron.h) */
    SCHEMA_LISTEN,   /* HOST:PORT to listen on (an IPv4 address, [IPv6] or localhost), or off */
    SCHEMA_EVENTS,   /* comma-separated notification events: start, success, failure, warning */
};

#define SCHEMA_ZONEINFO_DIR   "/usr/share/zoneinfo"
#define SCHEMA_MAX_THREADS    256   /* highest THREADS in a compression value */
#define SCHEMA_SECRET_MAX     65536 /* largest file:PATH secret, in bytes */
#define SCHEMA_NAME_MAX       64    /* longest store or job name */
#define SCHEMA_MAX_OPTIONS    96    /* upper bound on schema_option_count, for per-section arrays */
#define SCHEMA_PREFIX_MAX     512   /* longest S3 key prefix, in bytes (S3 keys end at 1024) */
#define SCHEMA_GLOB_MAX       1024  /* longest include/exclude pattern (MIRROR_PATTERN_MAX) */
#define SCHEMA_REDACTED       "<redacted>"
#define SCHEMA_RECIPIENTS_MAX 256 /* most age recipients in encrypt */

struct schema_option;

/* Parses value (borrowed) and stores it into the option's field(s) of obj, a struct cfg_global,
 * cfg_store or cfg_job (replacing and freeing any earlier value). Returns 0, or -1 with err
 * (ERR_CONFIG) set to a message without the option name or position, which the caller adds. May
 * read the environment and files (secrets, time zones). A secret's value never appears in the
 * message. */
typedef int schema_set_fn(const struct schema_option *opt, void *obj, const char *value,
                          struct error *err);
/* Appends the effective value of the option in obj to out as config text; a secret as its reference
 * (env:NAME, file:PATH) or SCHEMA_REDACTED, never its value. Returns false, appending nothing, when
 * the option is unset. */
typedef bool schema_format_fn(const struct schema_option *opt, const void *obj, struct buf *out);
/* For a family of keys (key_prefix + ITEM, as in keep.STORE): parses value for item (borrowed,
 * non-empty, lowercased like every key) into obj, appending one entry; line is where the key is,
 * kept for later cross-checks. Repeats of an item are not detected here. Errors as schema_set_fn.
 */
typedef int schema_set_item_fn(const struct schema_option *opt, void *obj, const char *item,
                               const char *value, int line, struct error *err);
/* Appends one "key = value" line per item set in obj, secrets redacted; false when none is set. */
typedef bool schema_format_items_fn(const struct schema_option *opt, const void *obj,
                                    struct buf *out);

struct schema_option {
    const char *name;
    enum schema_section section;
    /* Store types or job kinds it belongs to, '|'-separated ("postgres", "postgres|redis"); NULL:
     * every one. */
    const char *applies_to;
    enum schema_type type;
    bool is_required;
    bool is_discriminator; /* `type` of a store, `kind` of a job: read first; selects applies_to */
    /* Required only for these store types or job kinds ('|'-separated), optional for the others it
     * applies to (targets: postgres and redis jobs need it, verify jobs do not). */
    const char *required_for;
    const char
        *default_value; /* applied through set when absent; NULL: none (the field stays unset) */
    /* "KIND=VALUE": the default for one value of the discriminator instead of default_value
     * (compression of redis jobs); NULL: none. */
    const char *default_for_kind;
    const char *unset_doc; /* what an unset option means, e.g. "the machine's time zone" */
    long long min;         /* SCHEMA_INT and the level of SCHEMA_COMPRESSION */
    long long max;
    const char *const *choices; /* SCHEMA_ENUM: NULL-terminated canonical spellings */
    const char *choice_label;   /* SCHEMA_ENUM: the noun in "unknown store type 'x' (known: ...)" */
    const char *help;           /* one line */
    const char *example;        /* a value, as written in the file */
    size_t offset;              /* the field in the section's struct */
    size_t offset_extra; /* a second field: SCHEMA_SECRET the reference (char *), SCHEMA_LIST the
                            count (size_t), SCHEMA_KEEP the text (char *), SCHEMA_COMPRESSION
                            threads (int) */
    schema_set_fn *set;  /* NULL for a family */
    schema_format_fn *format; /* NULL for a family */
    /* A family of keys: any key that is key_prefix followed by a non-empty ITEM. name is the
     * documented form ("keep.STORE"). Set through set_item and shown through format_items. */
    const char *key_prefix;
    schema_set_item_fn *set_item;
    schema_format_items_fn *format_items;
};

extern const struct schema_option schema_options[];
extern const size_t schema_option_count;

/* "global", "store", "job". */
const char *schema_section_name(enum schema_section section);
/* Looks up a section name as written in the file (lowercased by the parser); false when unknown. */
bool schema_section_from_name(const char *name, enum schema_section *out);
/* True when opt belongs to section and, unless applies_to is NULL, to that store type or job kind
 * (one of the names in opt->applies_to). */
bool schema_option_applies(const struct schema_option *opt, enum schema_section section,
                           const char *applies_to);
/* True when opt must be given in a section of that store type or job kind. */
bool schema_option_required(const struct schema_option *opt, const char *applies_to);
/* The option named name in section for applies_to (NULL: any type or kind), or NULL. A key of a
 * family (keep.offsite) finds the family's option. */
const struct schema_option *schema_find(enum schema_section section, const char *applies_to,
                                        const char *name);
/* The discriminator option of section (`type`, `kind`), or NULL for [global]. */
const struct schema_option *schema_discriminator(enum schema_section section);

/* The candidate closest to word by Damerau-Levenshtein distance (optimal string alignment), when
 * that distance is at most 2 and smaller than the candidate's length; NULL otherwise.
 * Case-sensitive. */
const char *schema_suggest(const char *word, const char *const *candidates, size_t count);
/* Copies s into out (cap bytes, cap >= 8) for quoting in a message: bytes outside printable ASCII
 * become
 * '?', and a long s is cut with "...". Returns out. */
const char *schema_printable(const char *s, char *out, size_t cap);
/* True when name is a valid store or job name: 1 to SCHEMA_NAME_MAX of [A-Za-z0-9_.-]. */
bool schema_name_is_valid(const char *name);

#endif
