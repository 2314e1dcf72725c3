/* rclone remotes: the rclone.conf parser (goconfig's rules), remote names, the mapping of an s3
 * section onto the native client's options, the lsjson parser, and the binary-backed store driven
 * through the public store_* interface with the real rclone (a `type = local` remote) and with a
 * fake rclone script for failures. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include <sys/stat.h>
#include <unistd.h>

#include "stores/rclone_conf.h"
#include "stores/rclone_store.h"
#include "stores/store.h"
#include "unit.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/xalloc.h"

static void parse_ok(const char *text, struct rclone_conf *c)
{
    CHECK_OK(rclone_conf_parse("t.conf", text, strlen(text), c, unit_err()));
}

static const char *get(const struct rclone_conf *c, const char *section, const char *key)
{
    const struct rclone_conf_section *s = rclone_conf_find(c, section);

    return s ? rclone_conf_get(s, key) : NULL;
}

static void test_rclone_conf_parses_sections_keys_and_comments(void)
{
    struct rclone_conf c;
    const char *text = "# rclone config\n"
                       "; another comment\n"
                       "\n"
                       "[spaces-nyc]\n"
                       "type = s3\n"
                       "provider = DigitalOcean\n"
                       "  endpoint=nyc3.digitaloceanspaces.com  \n"
                       "\t# indented comment\n"
                       "acl : private\n"
                       "\n"
                       "[B2 Backup]\r\n"
                       "type = b2\r\n"
                       "account = 0012ab\r\n"
                       "key = K001/xy=z:w\r\n"
                       "[ padded ]\n"
                       "type = local"; /* no final newline */

    parse_ok(text, &c);
    CHECK(!c.is_encrypted);
    CHECK_INT_EQ(c.section_count, 3);
    CHECK_STR_EQ(c.sections[0].name, "spaces-nyc");
    CHECK_STR_EQ(c.sections[1].name, "B2 Backup");
    CHECK_STR_EQ(c.sections[2].name, "padded");
    CHECK_STR_EQ(get(&c, "spaces-nyc", "type"), "s3");
    CHECK_STR_EQ(get(&c, "spaces-nyc", "endpoint"), "nyc3.digitaloceanspaces.com");
    CHECK_STR_EQ(get(&c, "spaces-nyc", "acl"), "private");
    CHECK(get(&c, "spaces-nyc", "Type") == NULL); /* keys are matched exactly */
    CHECK(rclone_conf_find(&c, "SPACES-NYC") == NULL);
    /* Split at the first '=' or ':'; the rest is the value. */
    CHECK_STR_EQ(get(&c, "B2 Backup", "key"), "K001/xy=z:w");
    CHECK_STR_EQ(get(&c, "padded", "type"), "local");
    CHECK_INT_EQ(rclone_conf_find(&c, "spaces-nyc")->entry_count, 4);
    rclone_conf_release(&c);
    rclone_conf_release(&c); /* safe twice */
}

static void test_rclone_conf_merges_sections_and_keeps_last_value(void)
{
    struct rclone_conf c;

    parse_ok("top = level\n"
             "[a]\ntype = s3\nregion = one\nsecret = x\n"
             "[b]\ntype = sftp\n"
             "[a]\nregion = two\nsecret =\n"
             "[c]\n",
             &c);
    /* Keys before any section are goconfig's DEFAULT section. */
    CHECK_STR_EQ(get(&c, "DEFAULT", "top"), "level");
    CHECK_INT_EQ(c.section_count, 4);
    CHECK_STR_EQ(get(&c, "a", "region"), "two");
    CHECK_STR_EQ(get(&c, "a", "type"), "s3");
    /* An empty value removes the key. */
    CHECK(get(&c, "a", "secret") == NULL);
    CHECK_INT_EQ(rclone_conf_find(&c, "a")->entry_count, 2);
    CHECK(rclone_conf_find(&c, "c") != NULL);
    CHECK_INT_EQ(rclone_conf_find(&c, "c")->entry_count, 0);
    rclone_conf_release(&c);
}

static void test_rclone_conf_unquotes_like_goconfig(void)
{
    struct rclone_conf c;

    parse_ok("[q]\n"
             "back = `  spaced # value  `\n"
             "triple = \"\"\"a \"quoted\" b\"\"\"\n"
             "lone = \"kept\"\n"
             "`odd key` = 1\n"
             "\"k=e:y\" = 2\n"
             "- = first\n"
             "- = second\n"
             "inline = a # not a comment\n",
             &c);
    CHECK_STR_EQ(get(&c, "q", "back"), "  spaced # value  ");
    CHECK_STR_EQ(get(&c, "q", "triple"), "a \"quoted\" b");
    CHECK_STR_EQ(get(&c, "q", "lone"), "\"kept\"");
    CHECK_STR_EQ(get(&c, "q", "odd key"), "1");
    CHECK_STR_EQ(get(&c, "q", "k=e:y"), "2");
    CHECK_STR_EQ(get(&c, "q", "#1"), "first");
    CHECK_STR_EQ(get(&c, "q", "#2"), "second");
    CHECK_STR_EQ(get(&c, "q", "inline"), "a # not a comment");
    rclone_conf_release(&c);
}

static void test_rclone_conf_recognises_encrypted_form(void)
{
    struct rclone_conf c;
    struct error err = ERROR_INIT;

    /* rclone's own test data (fs/config/testdata/encrypted.conf): comment, blank, header. */
    parse_ok("# Encrypted rclone configuration File\n\nRCLONE_ENCRYPT_V0:\n"
             "b5Uk6mE3cUn5Wb8xiWYnVBAxXUirAaEG1PO/GIDiO9274AO+Yj790BwJA4d2y7lNkmHt4nJwIsoueFvUYmm7"
             "RDyzER8IA3XOCrjzl3OUcczZqcplk5JfBdhxMZpt1aGYWUdle1IgO/kAFne6sLD6IuxPySEb",
             &c);
    CHECK(c.is_encrypted);
    CHECK_INT_EQ(c.section_count, 0);
    rclone_conf_release(&c);

    parse_ok("  RCLONE_ENCRYPT_V0:  \r\nAAAA\n", &c);
    CHECK(c.is_encrypted);
    rclone_conf_release(&c);

    /* Only as the first line that counts; a section of that name is plain (rclone's plain.conf). */
    parse_ok("[RCLONE_ENCRYPT_V0]\ntype = local\n", &c);
    CHECK(!c.is_encrypted);
    CHECK_STR_EQ(get(&c, "RCLONE_ENCRYPT_V0", "type"), "local");
    rclone_conf_release(&c);

    CHECK_ERR(rclone_conf_parse("t.conf", "#\nRCLONE_ENCRYPT_V1:\nxx\n", 22, &c, &err), err,
              ERR_CONFIG, "t.conf:2: unsupported rclone config encryption");
    CHECK_INT_EQ(c.section_count, 0);
}

static void test_rclone_conf_reports_malformed_lines(void)
{
    struct rclone_conf c;
    struct error err = ERROR_INIT;
    const char *no_sep = "[a]\ntype = s3\njust words\n";
    const char *blank_section = "[ ]\n# fine so far\nkey = v\n";
    const char *bad_quote = "[a]\nk = `open\n";
    const char nul[] = "[a]\nk = v\0w\n";

    CHECK_ERR(rclone_conf_parse("t.conf", no_sep, strlen(no_sep), &c, &err), err, ERR_CONFIG,
              "t.conf:3: expected '[name]' or 'key = value'");
    CHECK_ERR(rclone_conf_parse("t.conf", blank_section, strlen(blank_section), &c, &err), err,
              ERR_CONFIG, "t.conf:3: key in a section with an empty name");
    CHECK_ERR(rclone_conf_parse("t.conf", bad_quote, strlen(bad_quote), &c, &err), err, ERR_CONFIG,
              "t.conf:2:");
    CHECK_ERR(rclone_conf_parse("t.conf", "= v\n", 4, &c, &err), err, ERR_CONFIG, "t.conf:1:");
    CHECK_ERR(rclone_conf_parse("t.conf", nul, sizeof(nul) - 1, &c, &err), err, ERR_CONFIG,
              "NUL byte");
    /* A "[]" with nothing after it is accepted, as rclone accepts it. */
    parse_ok("[]\n[a]\nk = v\n", &c);
    CHECK_STR_EQ(get(&c, "a", "k"), "v");
    rclone_conf_release(&c);
    parse_ok("", &c);
    CHECK_INT_EQ(c.section_count, 0);
    rclone_conf_release(&c);
}

static void test_rclone_conf_caps_sections(void)
{
    struct rclone_conf c;
    struct error err = ERROR_INIT;
    struct buf text;

    buf_init(&text, BUF_NO_CAP);
    for (int i = 0; i < 1025; i++)
        CHECK(buf_addf(&text, "[r%d]\ntype = local\n", i));
    CHECK_ERR(rclone_conf_parse("t.conf", text.data, text.len, &c, &err), err, ERR_CONFIG,
              "more than 1024 sections");
    buf_release(&text);
}

static void check_split(const char *remote, const char *name, const char *path)
{
    char *n = NULL;
    char *p = NULL;

    CHECK_OK(rclone_remote_split(remote, &n, &p, unit_err()));
    CHECK_STR_EQ(n, name);
    CHECK_STR_EQ(p, path);
    xfree(n);
    xfree(p);
}

static void check_split_fails(const char *remote, const char *substr)
{
    struct error err = ERROR_INIT;
    char *n = NULL;
    char *p = NULL;

    CHECK_ERR(rclone_remote_split(remote, &n, &p, &err), err, ERR_CONFIG, substr);
    CHECK(n == NULL && p == NULL);
}

static void test_rclone_remote_split_follows_rclone_name_rules(void)
{
    check_split("b2:bucket/some/path", "b2", "bucket/some/path");
    check_split("r:", "r", "");
    check_split("local:/srv/backups", "local", "/srv/backups");
    check_split("my remote.v2:x:y", "my remote.v2", "x:y");
    check_split("user+tag@example.com:b", "user+tag@example.com", "b");
    check_split("_r-e.m_:p", "_r-e.m_", "p");
    check_split("r-:p", "r-", "p");
    check_split("d\xc3\xa9j\xc3\xa0:p", "d\xc3\xa9j\xc3\xa0", "p");

    check_split_fails(":s3:bucket", "on-the-fly backends");
    check_split_fails(":s3,provider=AWS:bucket", "on-the-fly backends");
    check_split_fails("no-colon", "expected 'NAME:path'");
    check_split_fails("-dash:p", "invalid remote name");
    check_split_fails(" lead:p", "invalid remote name");
    check_split_fails("trail :p", "invalid remote name");
    check_split_fails("s3,provider=AWS:p", "invalid remote name");
    check_split_fails("a/b:p", "invalid remote name");
    check_split_fails("a*b:p", "invalid remote name");
}

static void test_rclone_conf_default_path_precedence(void)
{
    char *p;

    setenv("RCLONE_CONFIG", "/env/rclone.conf", 1);
    setenv("XDG_CONFIG_HOME", "/xdg", 1);
    setenv("HOME", "/home/me", 1);
    p = rclone_conf_default_path("/explicit.conf");
    CHECK_STR_EQ(p, "/explicit.conf");
    xfree(p);
    p = rclone_conf_default_path(NULL);
    CHECK_STR_EQ(p, "/env/rclone.conf");
    xfree(p);
    unsetenv("RCLONE_CONFIG");
    p = rclone_conf_default_path("");
    CHECK_STR_EQ(p, "/xdg/rclone/rclone.conf");
    xfree(p);
    unsetenv("XDG_CONFIG_HOME");
    p = rclone_conf_default_path(NULL);
    CHECK_STR_EQ(p, "/home/me/.config/rclone/rclone.conf");
    xfree(p);
}

/* ---- s3 mapping ---- */

static void map_ok(const char *conf_text, const char *path, struct rclone_conf *c,
                   struct rclone_s3_options *o)
{
    struct store_options base = {
        .name = "offsite", .type = "rclone", .ca_file = "/ca.pem", .concurrency = 3};

    parse_ok(conf_text, c);
    CHECK_OK(
        rclone_store_s3_options_init(rclone_conf_find(c, "r"), "r", path, &base, o, unit_err()));
}

static void map_fails(const char *conf_text, const char *path, const char *substr)
{
    struct store_options base = {.name = "offsite", .type = "rclone"};
    struct rclone_s3_options o;
    struct rclone_conf c;
    struct error err = ERROR_INIT;

    parse_ok(conf_text, &c);
    CHECK_ERR(rclone_store_s3_options_init(rclone_conf_find(&c, "r"), "r", path, &base, &o, &err),
              err, ERR_CONFIG, substr);
    /* No key material in messages. */
    CHECK(strstr(err.msg, "SECRETVALUE") == NULL);
    CHECK(strstr(err.hint, "SECRETVALUE") == NULL);
    rclone_store_s3_options_release(&o);
    rclone_conf_release(&c);
}

static void test_rclone_s3_maps_digitalocean_section(void)
{
    struct rclone_s3_options o;
    struct rclone_conf c;

    map_ok("[r]\ntype = s3\nprovider = DigitalOcean\nenv_auth = false\n"
           "access_key_id = DO00AKID\nsecret_access_key = SECRETVALUE\n"
           "endpoint = nyc3.digitaloceanspaces.com\nregion = nyc3\nlocation_constraint = x\n"
           "acl = private\n",
           "/mastodon-backups/permafrost/", &c, &o);
    CHECK_STR_EQ(o.opts.type, "s3");
    CHECK_STR_EQ(o.opts.name, "offsite");
    CHECK_STR_EQ(o.opts.ca_file, "/ca.pem"); /* base options carried over */
    CHECK_INT_EQ(o.opts.concurrency, 3);
    CHECK_STR_EQ(o.opts.endpoint, "https://nyc3.digitaloceanspaces.com");
    CHECK_STR_EQ(o.opts.region, "nyc3");
    CHECK_STR_EQ(o.opts.bucket, "mastodon-backups");
    CHECK_STR_EQ(o.opts.prefix, "permafrost");
    CHECK_INT_EQ(o.opts.path_style, 0); /* rclone addresses DigitalOcean virtual-hosted */
    CHECK(o.opts.access_key && o.opts.secret_key);
    CHECK_STR_EQ(o.opts.access_key->value, "DO00AKID");
    CHECK_STR_EQ(o.opts.secret_key->value, "SECRETVALUE");
    CHECK(o.opts.session_token == NULL);
    rclone_store_s3_options_release(&o);
    rclone_conf_release(&c);
}

static void test_rclone_s3_path_style_follows_provider(void)
{
    struct rclone_s3_options o;
    struct rclone_conf c;

    map_ok("[r]\ntype = s3\nprovider = Minio\naccess_key_id = a\nsecret_access_key = b\n"
           "endpoint = http://127.0.0.1:9000\n",
           "bucket", &c, &o);
    CHECK_STR_EQ(o.opts.endpoint, "http://127.0.0.1:9000");
    CHECK_INT_EQ(o.opts.path_style, 1);
    CHECK_STR_EQ(o.opts.bucket, "bucket");
    CHECK_STR_EQ(o.opts.prefix, "");
    CHECK(o.opts.region == NULL);
    rclone_store_s3_options_release(&o);
    rclone_conf_release(&c);

    map_ok("[r]\ntype = s3\nprovider = Ceph\nforce_path_style = false\naccess_key_id = a\n"
           "secret_access_key = b\nsession_token = tok\n",
           "b/p", &c, &o);
    CHECK_INT_EQ(o.opts.path_style, 0);
    CHECK(o.opts.endpoint == NULL);
    CHECK_STR_EQ(o.opts.session_token->value, "tok");
    rclone_store_s3_options_release(&o);
    rclone_conf_release(&c);

    /* AWS is virtual-hosted even when force_path_style says otherwise, as in rclone. */
    map_ok("[r]\ntype = s3\nprovider = AWS\nforce_path_style = true\nenv_auth = true\n"
           "region = eu-west-1\n",
           "b", &c, &o);
    CHECK_INT_EQ(o.opts.path_style, 0);
    CHECK(o.opts.access_key == NULL && o.opts.secret_key == NULL); /* from AWS_* */
    rclone_store_s3_options_release(&o);
    rclone_conf_release(&c);

    /* A provider missing from the table: force_path_style as written, default true. */
    map_ok("[r]\ntype = s3\nprovider = Hetzner\nenv_auth = T\n", "b", &c, &o);
    CHECK_INT_EQ(o.opts.path_style, 1);
    rclone_store_s3_options_release(&o);
    rclone_conf_release(&c);
}

static void test_rclone_s3_refuses_what_native_client_cannot_do(void)
{
    const char *keys = "access_key_id = AKID\nsecret_access_key = SECRETVALUE\n";
    char *text;

    map_fails("[r]\ntype = s3\nprovider = AWS\naccess_key_id = AKID\n", "b",
              "access_key_id is set but secret_access_key is not");
    map_fails("[r]\ntype = s3\nprovider = AWS\nsecret_access_key = SECRETVALUE\n", "b",
              "secret_access_key is set but access_key_id is not");
    map_fails("[r]\ntype = s3\nprovider = AWS\n", "b", "env_auth is not true");
    map_fails("[r]\ntype = s3\nenv_auth = maybe\n", "b", "env_auth = 'maybe' is not a boolean");
    text = xasprintf("[r]\ntype = s3\n%s", keys);
    map_fails(text, "", "no bucket in the path");
    map_fails(text, "///", "no bucket in the path");
    map_fails(text, "b/a//c", "empty, '.' or '..' segment");
    map_fails(text, "b/../c", "empty, '.' or '..' segment");
    xfree(text);
    text = xasprintf("[r]\ntype = s3\n%ssse_customer_key = SECRETVALUE\n", keys);
    map_fails(text, "b", "option 'sse_customer_key' is not supported");
    xfree(text);
    text = xasprintf("[r]\ntype = s3\n%sv2_auth = true\n", keys);
    map_fails(text, "b", "option 'v2_auth' is not supported");
    xfree(text);
    text = xasprintf("[r]\ntype = s3\n%sregion = other-v2-signature\n", keys);
    map_fails(text, "b", "option 'region' is not supported");
    xfree(text);
    text = xasprintf("[r]\ntype = s3\n%suse_accelerate_endpoint = 1\n", keys);
    map_fails(text, "b", "option 'use_accelerate_endpoint' is not supported");
    xfree(text);
}

/* ---- lsjson ---- */

static void test_rclone_lsjson_parses_listing_and_stat(void)
{
    /* As rclone 1.60 prints it, plus members we do not read. */
    const char *list =
        "[\n"
        "{\"Path\":\"a/b.txt\",\"Name\":\"b.txt\",\"Size\":6,\"MimeType\":\"text/plain\","
        "\"ModTime\":\"2026-11-29T08:21:59.575562644Z\",\"IsDir\":false,"
        "\"Hashes\":{\"md5\":\"b1946ac92492d2347c6235b4d2611184\"},\"Tier\":null,"
        "\"Metadata\":{\"a\":[1,2.5e3,{\"x\":true}]}},\n"
        "{\"Path\":\"d\",\"Name\":\"d\",\"Size\":-1,\"ModTime\":\"2026-01-01T01:00:00+01:00\","
        "\"IsDir\":true},\n"
        "{\"Path\":\"\\u00e9t\\u00E9/\\ud83d\\ude00 \\\"q\\\"\\\\\\/\",\"Size\":0,"
        "\"ModTime\":\"1970-01-01T00:00:00-00:30\",\"IsDir\":false},\n"
        "{\"Path\":\"bad\\nname\",\"Size\":1,\"ModTime\":\"2026-01-01T00:00:00Z\"}\n"
        "]\n";
    const char *stat = "{\n\t\"Path\": \"b.txt\",\n\t\"Name\": \"b.txt\",\n\t\"Size\": "
                       "9007199254740993,\n\t\"ModTime\": \"2026-11-29T08:21:59Z\",\n\t\"IsDir\": "
                       "false\n}\n";
    struct rclone_lsjson_entry *e = NULL;
    size_t n = 0;

    CHECK_OK(rclone_lsjson_parse(list, strlen(list), &e, &n, unit_err()));
    CHECK_INT_EQ(n, 3); /* the name with a newline is left out */
    CHECK_STR_EQ(e[0].path, "a/b.txt");
    CHECK_INT_EQ(e[0].size_bytes, 6);
    CHECK_INT_EQ(e[0].mtime, 1795940519); /* 2026-11-29T08:21:59Z */
    CHECK(!e[0].is_dir);
    CHECK_STR_EQ(e[1].path, "d");
    CHECK(e[1].is_dir);
    CHECK_INT_EQ(e[1].size_bytes, 0);
    CHECK_INT_EQ(e[1].mtime, 1767225600); /* 2026-01-01T00:00:00Z */
    CHECK_STR_EQ(e[2].path, "\xc3\xa9t\xc3\xa9/\xf0\x9f\x98\x80 \"q\"\\/");
    CHECK_INT_EQ(e[2].mtime, 1800);
    rclone_lsjson_free(e, n);

    CHECK_OK(rclone_lsjson_parse(stat, strlen(stat), &e, &n, unit_err()));
    CHECK_INT_EQ(n, 1);
    CHECK_INT_EQ(e[0].size_bytes, 9007199254740993ULL);
    rclone_lsjson_free(e, n);

    CHECK_OK(rclone_lsjson_parse(" [ ] \n", 6, &e, &n, unit_err()));
    CHECK_INT_EQ(n, 0);
    CHECK(e == NULL);
}

static void check_lsjson_fails(const char *text, const char *substr)
{
    struct rclone_lsjson_entry *e = NULL;
    struct error err = ERROR_INIT;
    size_t n = 0;

    CHECK_ERR(rclone_lsjson_parse(text, strlen(text), &e, &n, &err), err, ERR_REMOTE, substr);
    CHECK(e == NULL && n == 0);
}

static void test_rclone_lsjson_rejects_malformed_output(void)
{
    struct buf deep;

    check_lsjson_fails("", "expected an object");
    check_lsjson_fails("[", "expected an object");
    check_lsjson_fails("[{\"Path\":\"a\"}", "expected ',' or ']'");
    check_lsjson_fails("[{\"Path\":\"a\"},]", "expected an object");
    check_lsjson_fails("[{}]", "object without Path");
    check_lsjson_fails("[{\"Size\":1}]", "object without Path");
    check_lsjson_fails("[{\"Path\":\"a\",\"Size\":1.5}]", "Size is not an integer");
    check_lsjson_fails("[{\"Path\":\"a\",\"Size\":99999999999999999999}]", "Size is not");
    check_lsjson_fails("[{\"Path\":\"a\",\"ModTime\":\"2026-11-29 08:21:59\"}]", "ModTime is not");
    check_lsjson_fails("[{\"Path\":\"a\",\"ModTime\":\"2026-13-29T08:21:59Z\"}]", "ModTime is not");
    check_lsjson_fails("[{\"Path\":\"a\",\"IsDir\":1}]", "IsDir is not a boolean");
    check_lsjson_fails("[{\"Path\":\"a\\x\"}]", "bad escape");
    check_lsjson_fails("[{\"Path\":\"\\ud800\"}]", "lone surrogate");
    check_lsjson_fails("[{\"Path\":\"a\tb\"}]", "control character");
    check_lsjson_fails("[{\"Path\":\"a\"}] x", "trailing data");
    check_lsjson_fails("{\"Path\":\"a\"}{\"Path\":\"b\"}", "trailing data");
    check_lsjson_fails("[{\"Path\":\"a\",\"X\":nul}]", "expected a value");
    buf_init(&deep, BUF_NO_CAP);
    CHECK(buf_adds(&deep, "[{\"Path\":\"a\",\"X\":"));
    for (int i = 0; i < 40; i++)
        CHECK(buf_adds(&deep, "["));
    check_lsjson_fails(deep.data, "nested too deep");
    buf_release(&deep);
}

/* ---- the binary-backed store ---- */

static bool have_rclone(void)
{
    const char *argv[] = {"rclone", "version", NULL};

    return unit_run_cmd(argv, NULL, NULL) == 0;
}

static char *write_file(const char *name, const char *text)
{
    char *path = xasprintf("%s/%s", unit_tmp_dir(), name);

    CHECK_OK(fs_write_atomic(path, text, strlen(text), 0600, unit_err()));
    return path;
}

/* A store on a `type = local` remote rooted in the test's scratch directory. */
static struct store *open_local_remote(char **data_dir)
{
    char *conf = write_file("rclone.conf", "[loc]\ntype = local\n");
    char *remote;
    struct store_options opts = {.name = "rc", .type = "rclone", .rclone_config = conf};
    struct store *s = NULL;

    *data_dir = xasprintf("%s/data", unit_tmp_dir());
    remote = xasprintf("loc:%s/", *data_dir);
    opts.remote = remote;
    CHECK_OK(store_open(&opts, &s, unit_err()));
    CHECK_STR_EQ(store_name(s), "rc");
    xfree(remote);
    xfree(conf);
    return s;
}

static void read_all(struct store *s, const char *key, struct buf *out)
{
    struct store_reader *r = NULL;
    char chunk[1000];

    CHECK_OK(store_get_open(s, key, &r, unit_err()));
    for (;;) {
        size_t got = 0;
        CHECK_OK(store_reader_read(r, chunk, sizeof(chunk), &got, unit_err()));
        if (got == 0)
            break;
        CHECK(buf_add(out, chunk, got));
    }
    store_reader_close(r);
}

static int collect(const struct store_entry *e, void *ctx, struct error *err)
{
    struct buf *b = ctx;

    (void)err;
    CHECK(buf_addf(b, "%s%s %llu\n", e->is_partial ? "partial " : "", e->key,
                   (unsigned long long)e->size_bytes));
    return 0;
}

static void test_rclone_store_round_trip_through_binary(void)
{
    struct store *s;
    struct store_writer *w = NULL;
    struct store_entry e;
    struct buf got;
    char *data_dir = NULL;
    char *path;
    size_t len = 300000;
    char *data;
    bool exists = true;

    if (!have_rclone()) {
        fprintf(stderr, "  (rclone not installed: skipped)\n");
        return;
    }
    buf_init(&got, BUF_NO_CAP);
    s = open_local_remote(&data_dir);
    path = xasprintf("rclone:loc:%s", data_dir);
    CHECK_STR_EQ(store_location(s), path);
    xfree(path);
    data = xmalloc(len);
    for (size_t i = 0; i < len; i++)
        data[i] = (char)(i * 7 + i / 251);

    CHECK_OK(store_put_open(s, "db/20261124T031500Z-k3f9/dump.zst", &w, unit_err()));
    CHECK_OK(store_writer_write(w, data, len / 2, unit_err()));
    CHECK_OK(store_writer_write(w, data + len / 2, len - len / 2, unit_err()));
    /* Not visible before commit: only the temporary key exists. */
    CHECK_OK(store_stat(s, "db/20261124T031500Z-k3f9/dump.zst", &e, &exists, unit_err()));
    CHECK(!exists);
    CHECK_OK(store_writer_commit(w, unit_err()));
    CHECK_OK(store_stat(s, "db/20261124T031500Z-k3f9/dump.zst", &e, &exists, unit_err()));
    CHECK(exists);
    CHECK_INT_EQ(e.size_bytes, len);
    CHECK(e.mtime > 1700000000);
    read_all(s, "db/20261124T031500Z-k3f9/dump.zst", &got);
    CHECK_INT_EQ(got.len, len);
    CHECK(memcmp(got.data, data, len) == 0);

    CHECK_OK(store_put_bytes(s, "db/20261124T031500Z-k3f9/manifest.json", "{}", 2, unit_err()));
    CHECK_OK(store_put_bytes(s, "db-other/x", "1", 1, unit_err()));
    CHECK_OK(store_put_bytes(s, "db/a-b", "", 0, unit_err()));
    CHECK_OK(store_put_bytes(s, "top", "abc", 3, unit_err()));

    buf_reset(&got);
    CHECK_OK(store_list(s, "", collect, &got, unit_err()));
    CHECK_STR_EQ(got.data, "db-other/x 1\n"
                           "db/20261124T031500Z-k3f9/dump.zst 300000\n"
                           "db/20261124T031500Z-k3f9/manifest.json 2\n"
                           "db/a-b 0\n"
                           "top 3\n");
    buf_reset(&got);
    CHECK_OK(store_list(s, "db/", collect, &got, unit_err()));
    CHECK_STR_EQ(got.data, "db/20261124T031500Z-k3f9/dump.zst 300000\n"
                           "db/20261124T031500Z-k3f9/manifest.json 2\n"
                           "db/a-b 0\n");
    buf_reset(&got);
    CHECK_OK(store_list(s, "db/2026", collect, &got, unit_err()));
    CHECK(strstr(got.data, "manifest.json") != NULL);
    CHECK(strstr(got.data, "a-b") == NULL);
    buf_reset(&got);
    CHECK_OK(store_list(s, "nothing/here/", collect, &got, unit_err()));
    CHECK_STR_EQ(got.data, "");

    CHECK_OK(store_remove(s, "top", unit_err()));
    CHECK_OK(store_remove(s, "top", unit_err())); /* missing: not an error */
    CHECK_OK(store_stat(s, "top", &e, &exists, unit_err()));
    CHECK(!exists);
    CHECK_OK(store_remove_prefix(s, "db/20261124T031500Z-k3f9/", unit_err()));
    CHECK_OK(store_remove_prefix(s, "db/20261124T031500Z-k3f9/", unit_err()));
    buf_reset(&got);
    CHECK_OK(store_list(s, "", collect, &got, unit_err()));
    CHECK_STR_EQ(got.data, "db-other/x 1\ndb/a-b 0\n");

    store_free(s);
    buf_release(&got);
    xfree(data);
    xfree(data_dir);
}

static void test_rclone_store_abort_and_partial_listing(void)
{
    struct store *s;
    struct store_writer *w = NULL;
    struct store_reader *r = NULL;
    struct error err = ERROR_INIT;
    struct buf got;
    char *data_dir = NULL;
    char *tmp;
    bool exists = true;
    struct store_entry e;

    if (!have_rclone()) {
        fprintf(stderr, "  (rclone not installed: skipped)\n");
        return;
    }
    buf_init(&got, BUF_NO_CAP);
    s = open_local_remote(&data_dir);
    CHECK_OK(store_put_open(s, "j/snap/a", &w, unit_err()));
    CHECK_OK(store_writer_write(w, "partial data", 12, unit_err()));
    store_writer_abort(w);
    CHECK_OK(store_stat(s, "j/snap/a", &e, &exists, unit_err()));
    CHECK(!exists);
    buf_reset(&got);
    CHECK_OK(store_list_partial(s, "", collect, &got, unit_err()));
    CHECK_STR_EQ(got.data, "");

    /* A crashed writer's temporary key: hidden from store_list, reported by list_partial. */
    CHECK_OK(store_put_bytes(s, "j/snap/b", "bb", 2, unit_err()));
    tmp = xasprintf("%s/j/snap/.c.tmp-abc123", data_dir);
    CHECK_OK(fs_write_atomic(tmp, "cc", 2, 0600, unit_err()));
    buf_reset(&got);
    CHECK_OK(store_list(s, "j/", collect, &got, unit_err()));
    CHECK_STR_EQ(got.data, "j/snap/b 2\n");
    buf_reset(&got);
    CHECK_OK(store_list_partial(s, "j/", collect, &got, unit_err()));
    CHECK_STR_EQ(got.data, "j/snap/b 2\npartial j/snap/c 2\n");
    CHECK_OK(store_remove_prefix(s, "j/snap/", unit_err()));
    CHECK(!fs_exists(tmp));

    CHECK_ERR(store_get_open(s, "j/snap/b", &r, &err), err, ERR_IO, "not found");
    CHECK_INT_EQ(err.sys_errno, ENOENT);
    CHECK_ERR(store_put_open(s, "../escape", &w, &err), err, ERR_IO, "invalid key");
    CHECK_ERR(store_put_open(s, "a/.x.tmp-1", &w, &err), err, ERR_IO, "invalid key");
    CHECK_ERR(store_remove_prefix(s, "", &err), err, ERR_USAGE, "must be non-empty");
    store_free(s);
    buf_release(&got);
    xfree(tmp);
    xfree(data_dir);
}

/* A fake rclone that fails every command the way rclone does: a time-stamped line on stderr. */
static void test_rclone_store_reports_rclone_stderr(void)
{
    char *conf = write_file("rclone.conf", "[sftp-box]\ntype = sftp\nhost = example.org\n");
    char *fake = write_file("fake-rclone", "#!/bin/sh\n"
                                           "echo 'noise line' >&2\n"
                                           "echo '2026/01/02 03:04:05 Failed to lsjson: "
                                           "couldn'\"'\"'t connect SSH: boom' >&2\n"
                                           "exit 1\n");
    struct store_options opts = {.name = "box",
                                 .type = "rclone",
                                 .remote = "sftp-box:backups",
                                 .rclone_config = conf,
                                 .rclone_binary = fake};
    struct store *s = NULL;
    struct store_entry e;
    struct error err = ERROR_INIT;
    struct buf got;
    bool exists;

    buf_init(&got, BUF_NO_CAP);
    CHECK(chmod(fake, 0700) == 0);
    CHECK_OK(store_open(&opts, &s, unit_err()));
    CHECK_STR_EQ(store_location(s), "rclone:sftp-box:backups");
    CHECK_ERR(store_stat(s, "k", &e, &exists, &err), err, ERR_REMOTE,
              "rclone lsjson --stat 'sftp-box:backups/k' failed (exit 1): Failed to lsjson: "
              "couldn't connect SSH: boom");
    CHECK(strstr(err.msg, "noise line") == NULL);
    CHECK(strstr(err.hint, "rclone lsf --config '") != NULL);
    CHECK(strstr(err.hint, "' 'sftp-box:backups'") != NULL);
    CHECK_ERR(store_list(s, "", collect, &got, &err), err, ERR_REMOTE,
              "rclone lsjson 'sftp-box:backups' failed (exit 1)");
    store_free(s);

    opts.rclone_binary = "/nonexistent/rclone";
    CHECK_OK(store_open(&opts, &s, unit_err()));
    CHECK_ERR(store_stat(s, "k", &e, &exists, &err), err, ERR_IO, "start '/nonexistent/rclone'");
    CHECK(strstr(err.hint, "install rclone") != NULL);
    store_free(s);
    buf_release(&got);
    xfree(conf);
    xfree(fake);
}

static void test_rclone_store_open_errors(void)
{
    char *conf = write_file("rclone.conf", "[plain]\ntype = b2\n[notype]\nx = y\n"
                                           "[s3r]\ntype = s3\nenv_auth = true\n");
    char *enc = write_file("enc.conf", "# Encrypted rclone configuration File\n\n"
                                       "RCLONE_ENCRYPT_V0:\nAAAA\n");
    char *missing = xasprintf("%s/none.conf", unit_tmp_dir());
    struct store_options opts = {.name = "st", .type = "rclone", .rclone_config = conf};
    struct store *s = NULL;
    struct error err = ERROR_INIT;

    CHECK_ERR(store_open(&opts, &s, &err), err, ERR_CONFIG, "store 'st': no remote set");
    opts.remote = ":b2:bucket";
    CHECK_ERR(store_open(&opts, &s, &err), err, ERR_CONFIG, "store 'st': remote ':b2:bucket'");
    opts.remote = "absent:x";
    CHECK_ERR(store_open(&opts, &s, &err), err, ERR_CONFIG,
              "store 'st': remote 'absent' is not in rclone config");
    CHECK(strstr(err.hint, "rclone listremotes") != NULL);
    opts.remote = "notype:x";
    CHECK_ERR(store_open(&opts, &s, &err), err, ERR_CONFIG, "has no type");
    /* type = s3: the native client's options are built (and fail here on the bucket). */
    opts.remote = "s3r:";
    CHECK_ERR(store_open(&opts, &s, &err), err, ERR_CONFIG,
              "store 'st': rclone remote 's3r': no bucket");
    opts.remote = "plain:bucket/dir";
    CHECK_OK(store_open(&opts, &s, unit_err()));
    CHECK_STR_EQ(store_location(s), "rclone:plain:bucket/dir");
    store_free(s);

    /* Encrypted: only rclone can read it, so any remote goes through the binary. */
    opts.rclone_config = enc;
    opts.remote = "whatever:p/";
    CHECK_OK(store_open(&opts, &s, unit_err()));
    CHECK_STR_EQ(store_location(s), "rclone:whatever:p");
    store_free(s);

    opts.rclone_config = missing;
    CHECK_ERR(store_open(&opts, &s, &err), err, ERR_CONFIG, "does not exist");
    /* A remote defined in the environment needs no file. */
    setenv("RCLONE_CONFIG_MY_ENV_REMOTE_TYPE", "local", 1);
    opts.remote = "my-env-remote:/tmp";
    CHECK_OK(store_open(&opts, &s, unit_err()));
    store_free(s);

    opts.rclone_config = conf;
    CHECK_OK(fs_write_atomic(conf, "[a]\nbroken line\n", 16, 0600, unit_err()));
    opts.remote = "a:x";
    CHECK_ERR(store_open(&opts, &s, &err), err, ERR_CONFIG, "rclone.conf:2: expected");
    xfree(conf);
    xfree(enc);
    xfree(missing);
}

const struct unit_test rclone_conf_tests[] = {
    {"rclone_conf_parses_sections_keys_and_comments",
     test_rclone_conf_parses_sections_keys_and_comments},
    {"rclone_conf_merges_sections_and_keeps_last_value",
     test_rclone_conf_merges_sections_and_keeps_last_value},
    {"rclone_conf_unquotes_like_goconfig", test_rclone_conf_unquotes_like_goconfig},
    {"rclone_conf_recognises_encrypted_form", test_rclone_conf_recognises_encrypted_form},
    {"rclone_conf_reports_malformed_lines", test_rclone_conf_reports_malformed_lines},
    {"rclone_conf_caps_sections", test_rclone_conf_caps_sections},
    {"rclone_remote_split_follows_rclone_name_rules",
     test_rclone_remote_split_follows_rclone_name_rules},
    {"rclone_conf_default_path_precedence", test_rclone_conf_default_path_precedence},
    {"rclone_s3_maps_digitalocean_section", test_rclone_s3_maps_digitalocean_section},
    {"rclone_s3_path_style_follows_provider", test_rclone_s3_path_style_follows_provider},
    {"rclone_s3_refuses_what_native_client_cannot_do",
     test_rclone_s3_refuses_what_native_client_cannot_do},
    {"rclone_lsjson_parses_listing_and_stat", test_rclone_lsjson_parses_listing_and_stat},
    {"rclone_lsjson_rejects_malformed_output", test_rclone_lsjson_rejects_malformed_output},
    {"rclone_store_round_trip_through_binary", test_rclone_store_round_trip_through_binary},
    {"rclone_store_abort_and_partial_listing", test_rclone_store_abort_and_partial_listing},
    {"rclone_store_reports_rclone_stderr", test_rclone_store_reports_rclone_stderr},
    {"rclone_store_open_errors", test_rclone_store_open_errors},
    {NULL, NULL},
};
