#include "stores/s3_xml.h"
#include "unit.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/xalloc.h"

/* Reads tests/fixtures/s3_xml/NAME into b (initialised here; the caller releases it). */
static void fixture(const char *name, struct buf *b)
{
    char *path = xasprintf("%s/s3_xml/%s", unit_fixture_dir(), name);

    buf_init(b, S3_XML_MAX_BODY);
    CHECK_OK(fs_read_file(path, b, unit_err()));
    xfree(path);
}

static void test_s3_xml_error_reads_aws_fields(void)
{
    struct buf b;
    struct s3_xml_error e;

    fixture("error_aws_nosuchkey.xml", &b);
    CHECK_OK(s3_xml_parse_error(b.data, b.len, &e, unit_err()));
    CHECK_STR_EQ(e.code, "NoSuchKey");
    CHECK_STR_EQ(e.message, "The resource you requested does not exist");
    CHECK_STR_EQ(e.resource, "/mybucket/myfoto.jpg");
    CHECK_STR_EQ(e.request_id, "4442587FB7D0A2F9");
    CHECK_STR_EQ(e.region, "");
    buf_release(&b);
}

static void test_s3_xml_error_accepts_radosgw_empty_message(void)
{
    struct buf b;
    struct s3_xml_error e;

    fixture("error_radosgw_nosuchbucket.xml", &b);
    CHECK_OK(s3_xml_parse_error(b.data, b.len, &e, unit_err()));
    CHECK_STR_EQ(e.code, "NoSuchBucket");
    CHECK_STR_EQ(e.message, "");
    CHECK_STR_EQ(e.request_id, "tx000000a1b2c3d4e5f6071-00673f0e2a-1014-default");
    buf_release(&b);

    fixture("error_radosgw_signature.xml", &b);
    CHECK_OK(s3_xml_parse_error(b.data, b.len, &e, unit_err()));
    CHECK_STR_EQ(e.code, "SignatureDoesNotMatch");
    CHECK_STR_EQ(e.message, "");
    buf_release(&b);
}

static void test_s3_xml_error_reads_region_and_unescapes(void)
{
    struct buf b;
    struct s3_xml_error e;

    fixture("error_aws_auth_region.xml", &b);
    CHECK_OK(s3_xml_parse_error(b.data, b.len, &e, unit_err()));
    CHECK_STR_EQ(e.code, "AuthorizationHeaderMalformed");
    CHECK_STR_EQ(e.region, "eu-west-1");
    CHECK(strstr(e.message, "the region 'us-east-1' is wrong") != NULL);
    buf_release(&b);
}

static void test_s3_xml_error_cuts_long_message_at_character(void)
{
    struct buf b;
    struct s3_xml_error e;
    struct error err = ERROR_INIT;

    buf_init(&b, BUF_NO_CAP);
    buf_adds(&b, "<Error><Code>SlowDown</Code><Message>");
    /* 300 two-byte characters: 600 bytes, cut to fit 511 without splitting one. */
    for (int i = 0; i < 300; i++)
        buf_adds(&b, "\xc3\xa9");
    buf_adds(&b, "</Message><Key>k</Key></Error>");
    CHECK_OK(s3_xml_parse_error(b.data, b.len, &e, &err));
    CHECK_STR_EQ(e.code, "SlowDown");
    CHECK_INT_EQ(strlen(e.message), 510);
    CHECK_STR_EQ(e.resource, "k");
    buf_release(&b);
}

static void test_s3_xml_error_refuses_other_root(void)
{
    const char body[] = "<ListBucketResult></ListBucketResult>";
    struct s3_xml_error e;
    struct error err = ERROR_INIT;

    CHECK_ERR(s3_xml_parse_error(body, strlen(body), &e, &err), err, ERR_REMOTE,
              "unexpected root element <ListBucketResult>");
}

static void test_s3_xml_list_reads_aws_example(void)
{
    struct buf b;
    struct s3_xml_list l = {0};

    fixture("list_v2_aws.xml", &b);
    CHECK_OK(s3_xml_parse_list(b.data, b.len, &l, unit_err()));
    CHECK_INT_EQ(l.object_count, 1);
    CHECK_STR_EQ(l.objects[0].key, "my-image.jpg");
    CHECK_INT_EQ(l.objects[0].size_bytes, 434234);
    CHECK_INT_EQ(l.objects[0].last_modified, 1255369830); /* 2009-10-12T17:50:30Z */
    CHECK_STR_EQ(l.objects[0].etag, "fba9dede5f27731c9771645a39863328");
    CHECK_STR_EQ(l.objects[0].storage_class, "STANDARD");
    CHECK(!l.is_truncated);
    CHECK(l.next_continuation_token == NULL);
    CHECK(l.next_marker == NULL);
    CHECK_INT_EQ(l.common_prefix_count, 0);
    CHECK_STR_EQ(l.key_count_text, "205");
    s3_xml_list_release(&l);
    CHECK(l.objects == NULL && l.object_count == 0);
    buf_release(&b);
}

static void test_s3_xml_list_unescapes_keys_with_amp_unicode_spaces(void)
{
    struct buf b;
    struct s3_xml_list l = {0};

    fixture("list_v2_radosgw_keys.xml", &b);
    CHECK_OK(s3_xml_parse_list(b.data, b.len, &l, unit_err()));
    CHECK_INT_EQ(l.object_count, 2);
    CHECK_STR_EQ(l.objects[0].key, "a & b/c<d>.txt");
    CHECK_STR_EQ(l.objects[0].etag, "0cc175b9c0f1b6a831c399e269772661");
    CHECK_INT_EQ(l.objects[0].last_modified, 1795490100); /* 2026-11-24T03:15:00Z */
    CHECK_STR_EQ(l.objects[1].key, "caf\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e file+%20.zst");
    CHECK(l.objects[1].size_bytes == UINT64_MAX);
    CHECK_STR_EQ(l.objects[1].etag, "3858f62230ac3c915f300c664312c11f-9");
    s3_xml_list_release(&l);
    buf_release(&b);
}

static void test_s3_xml_list_empty(void)
{
    struct buf b;
    struct s3_xml_list l = {0};

    fixture("list_v2_radosgw_empty.xml", &b);
    CHECK_OK(s3_xml_parse_list(b.data, b.len, &l, unit_err()));
    CHECK_INT_EQ(l.object_count, 0);
    CHECK(l.objects == NULL);
    CHECK_INT_EQ(l.common_prefix_count, 0);
    CHECK(!l.is_truncated);
    CHECK(l.next_continuation_token == NULL);
    s3_xml_list_release(&l);
    buf_release(&b);

    /* The smallest listing: a self-closed root. */
    CHECK_OK(s3_xml_parse_list("<ListBucketResult/>", 19, &l, unit_err()));
    CHECK_INT_EQ(l.object_count, 0);
    s3_xml_list_release(&l);
}

static void test_s3_xml_list_truncated_gives_token(void)
{
    struct buf b;
    struct s3_xml_list l = {0};

    fixture("list_v2_truncated.xml", &b);
    CHECK_OK(s3_xml_parse_list(b.data, b.len, &l, unit_err()));
    CHECK(l.is_truncated);
    CHECK_STR_EQ(l.next_continuation_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
    CHECK_INT_EQ(l.object_count, 2);
    CHECK_STR_EQ(l.objects[0].key, "happyface.jpg");
    CHECK_STR_EQ(l.objects[1].key, "test.jpg");
    CHECK_INT_EQ(l.objects[1].size_bytes, 142863);
    s3_xml_list_release(&l);
    buf_release(&b);
}

static void test_s3_xml_list_common_prefixes(void)
{
    struct buf b;
    struct s3_xml_list l = {0};

    fixture("list_v2_common_prefixes.xml", &b);
    CHECK_OK(s3_xml_parse_list(b.data, b.len, &l, unit_err()));
    CHECK_INT_EQ(l.object_count, 1);
    CHECK_STR_EQ(l.objects[0].key, "photos/2006/index.html");
    CHECK_INT_EQ(l.objects[0].size_bytes, 0);
    CHECK_INT_EQ(l.common_prefix_count, 2);
    CHECK_STR_EQ(l.common_prefixes[0], "photos/2006/February/");
    CHECK_STR_EQ(l.common_prefixes[1], "photos/2006/January/");
    s3_xml_list_release(&l);
    buf_release(&b);
}

static void test_s3_xml_list_v1_next_marker(void)
{
    struct buf b;
    struct s3_xml_list l = {0};

    fixture("list_v1_next_marker.xml", &b);
    CHECK_OK(s3_xml_parse_list(b.data, b.len, &l, unit_err()));
    CHECK(l.is_truncated);
    CHECK_STR_EQ(l.next_marker, "Nelson");
    CHECK(l.next_continuation_token == NULL);
    CHECK_INT_EQ(l.object_count, 1);
    CHECK_STR_EQ(l.objects[0].key, "Nelson");
    CHECK_INT_EQ(l.common_prefix_count, 1);
    CHECK_STR_EQ(l.common_prefixes[0], "Neo/");
    s3_xml_list_release(&l);
    buf_release(&b);
}

static void test_s3_xml_list_matches_local_names_whatever_the_prefix(void)
{
    const char body[] =
        "<s3:ListBucketResult xmlns:s3=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<s3:IsTruncated>TRUE</s3:IsTruncated><s3:Contents><s3:Key>a</s3:Key></s3:Contents>"
        "<x:Contents><Key>b</Key><Size>7</Size></x:Contents></s3:ListBucketResult>";
    struct s3_xml_list l = {0};

    CHECK_OK(s3_xml_parse_list(body, strlen(body), &l, unit_err()));
    CHECK(l.is_truncated);
    CHECK_INT_EQ(l.object_count, 2);
    CHECK_STR_EQ(l.objects[0].key, "a");
    CHECK(l.objects[0].etag == NULL);
    CHECK(l.objects[0].storage_class == NULL);
    CHECK_INT_EQ(l.objects[0].last_modified, 0);
    CHECK_STR_EQ(l.objects[1].key, "b");
    CHECK_INT_EQ(l.objects[1].size_bytes, 7);
    s3_xml_list_release(&l);
}

static void test_s3_xml_list_error_body_gives_s3_code(void)
{
    struct buf b;
    struct s3_xml_list l = {0};
    struct error err = ERROR_INIT;

    fixture("error_aws_nosuchkey.xml", &b);
    CHECK_ERR(s3_xml_parse_list(b.data, b.len, &l, &err), err, ERR_REMOTE,
              "S3 error NoSuchKey: The resource you requested does not exist (request id "
              "4442587FB7D0A2F9)");
    CHECK(l.objects == NULL);
    buf_release(&b);
}

static void test_s3_xml_list_refuses_bad_values(void)
{
    struct s3_xml_list l = {0};
    struct error err = ERROR_INIT;
    const char no_key[] =
        "<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>";
    const char bad_size[] =
        "<ListBucketResult><Contents><Key>a</Key><Size>-1</Size></Contents></ListBucketResult>";
    const char big_size[] = "<ListBucketResult><Contents><Key>a</Key><Size>18446744073709551616"
                            "</Size></Contents></ListBucketResult>";
    const char bad_bool[] = "<ListBucketResult><IsTruncated>yes</IsTruncated></ListBucketResult>";
    const char bad_time[] = "<ListBucketResult><Contents><Key>a</Key><LastModified>yesterday"
                            "</LastModified></Contents></ListBucketResult>";

    CHECK_ERR(s3_xml_parse_list(no_key, strlen(no_key), &l, &err), err, ERR_REMOTE,
              "<Contents> number 1 has no <Key>");
    CHECK_ERR(s3_xml_parse_list(bad_size, strlen(bad_size), &l, &err), err, ERR_REMOTE,
              "bad <Size> '-1'");
    CHECK_ERR(s3_xml_parse_list(big_size, strlen(big_size), &l, &err), err, ERR_REMOTE,
              "bad <Size>");
    CHECK_ERR(s3_xml_parse_list(bad_bool, strlen(bad_bool), &l, &err), err, ERR_REMOTE,
              "bad <IsTruncated> 'yes'");
    CHECK_ERR(s3_xml_parse_list(bad_time, strlen(bad_time), &l, &err), err, ERR_REMOTE,
              "bad <LastModified> 'yesterday'");
    CHECK(l.objects == NULL && l.object_count == 0);
}

static void test_s3_xml_malformed_names_expat_error_and_line(void)
{
    const char body[] = "<ListBucketResult>\n<Contents>\n<Key>a</Kee>\n</Contents>\n"
                        "</ListBucketResult>";
    const char junk[] = "<html><body>502 Bad Gateway</body></html>";
    const char entity[] = "<ListBucketResult><Name>&foo;</Name></ListBucketResult>";
    const char nul[] = "<ListBucketResult>\0</ListBucketResult>";
    struct s3_xml_list l = {0};
    struct error err = ERROR_INIT;

    CHECK_ERR(s3_xml_parse_list(body, strlen(body), &l, &err), err, ERR_REMOTE,
              "ListObjectsV2 response: malformed XML at line 3 column");
    CHECK(strstr(err.msg, "mismatched tag") != NULL);
    CHECK_ERR(s3_xml_parse_list(junk, strlen(junk), &l, &err), err, ERR_REMOTE,
              "unexpected root element <html> (wanted <ListBucketResult>)");
    CHECK_ERR(s3_xml_parse_list(entity, strlen(entity), &l, &err), err, ERR_REMOTE,
              "undefined entity");
    CHECK_ERR(s3_xml_parse_list(nul, sizeof(nul) - 1, &l, &err), err, ERR_REMOTE, "malformed XML");
    CHECK_ERR(s3_xml_parse_list("", 0, &l, &err), err, ERR_REMOTE, "empty body");
    CHECK_ERR(s3_xml_parse_list(" \r\n", 3, &l, &err), err, ERR_REMOTE, "empty body");
    CHECK_ERR(s3_xml_parse_list("<ListBucketResult/><b/>", 23, &l, &err), err, ERR_REMOTE,
              "junk after document element");
}

/* Every cut of a good body short of its closing tag is refused, by every parser. */
static void test_s3_xml_truncated_bodies_refused(void)
{
    static const char *const names[] = {
        "list_v2_truncated.xml", "list_v2_radosgw_keys.xml", "delete_result_failures.xml",
        "list_uploads_aws.xml",  "complete_aws.xml",         "error_radosgw_nosuchbucket.xml",
    };

    for (size_t n = 0; n < sizeof(names) / sizeof(names[0]); n++) {
        struct buf b;
        size_t end;

        fixture(names[n], &b);
        end = b.len;
        while (end > 0 && b.data[end - 1] != '>')
            end--;
        for (size_t cut = 0; cut < end; cut++) {
            struct error err = ERROR_INIT;
            struct s3_xml_list l = {0};
            struct s3_xml_uploads u = {0};
            struct s3_xml_delete_result r = {0};
            struct s3_xml_error e;
            char *etag = NULL;

            CHECK(s3_xml_parse_list(b.data, cut, &l, &err) < 0 && err.kind == ERR_REMOTE);
            CHECK(s3_xml_parse_uploads(b.data, cut, &u, &err) < 0 && err.kind == ERR_REMOTE);
            CHECK(s3_xml_parse_delete(b.data, cut, &r, &err) < 0 && err.kind == ERR_REMOTE);
            CHECK(s3_xml_parse_complete(b.data, cut, &etag, NULL, &err) < 0 && etag == NULL);
            CHECK(s3_xml_parse_error(b.data, cut, &e, &err) < 0 && err.kind == ERR_REMOTE);
        }
        buf_release(&b);
    }
}

static void test_s3_xml_doctype_refused(void)
{
    const char laughs[] =
        "<?xml version=\"1.0\"?>\n"
        "<!DOCTYPE lolz [<!ENTITY lol \"lol\">"
        "<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">]>\n"
        "<Error><Code>&lol2;</Code></Error>";
    const char external[] = "<!DOCTYPE Error SYSTEM \"file:///etc/passwd\"><Error><Code>x</Code>"
                            "</Error>";
    struct s3_xml_error e;
    struct s3_xml_list l = {0};
    struct error err = ERROR_INIT;

    CHECK_ERR(s3_xml_parse_error(laughs, strlen(laughs), &e, &err), err, ERR_REMOTE,
              "DOCTYPE refused");
    CHECK_ERR(s3_xml_parse_error(external, strlen(external), &e, &err), err, ERR_REMOTE,
              "DOCTYPE refused");
    CHECK_ERR(s3_xml_parse_list(laughs, strlen(laughs), &l, &err), err, ERR_REMOTE,
              "ListObjectsV2 response: DOCTYPE refused");
}

static void test_s3_xml_oversized_value_refused(void)
{
    struct buf b;
    struct s3_xml_list l = {0};
    struct error err = ERROR_INIT;

    /* Exactly the cap is taken; whitespace between elements never counts. */
    buf_init(&b, BUF_NO_CAP);
    buf_adds(&b, "<ListBucketResult>");
    for (int i = 0; i < 2 * S3_XML_MAX_KEY_BYTES; i++)
        buf_adds(&b, " ");
    buf_adds(&b, "<Contents><Key>");
    for (int i = 0; i < S3_XML_MAX_KEY_BYTES; i++)
        buf_adds(&b, "k");
    buf_adds(&b, "</Key></Contents></ListBucketResult>");
    CHECK_OK(s3_xml_parse_list(b.data, b.len, &l, unit_err()));
    CHECK_INT_EQ(strlen(l.objects[0].key), S3_XML_MAX_KEY_BYTES);
    s3_xml_list_release(&l);

    /* One byte more, given as an entity so expat hands it over in pieces, is refused. */
    buf_reset(&b);
    buf_adds(&b, "<ListBucketResult><Contents><Key>&amp;");
    for (int i = 0; i < S3_XML_MAX_KEY_BYTES; i++)
        buf_adds(&b, "k");
    buf_adds(&b, "</Key></Contents></ListBucketResult>");
    CHECK_ERR(s3_xml_parse_list(b.data, b.len, &l, &err), err, ERR_REMOTE,
              "value of <Key> longer than 4096 bytes");

    /* Unknown leaves are capped too. */
    buf_reset(&b);
    buf_adds(&b, "<ListBucketResult><Whatever>");
    for (int i = 0; i <= S3_XML_MAX_KEY_BYTES; i++)
        buf_adds(&b, "w");
    buf_adds(&b, "</Whatever></ListBucketResult>");
    CHECK_ERR(s3_xml_parse_list(b.data, b.len, &l, &err), err, ERR_REMOTE,
              "value of <Whatever> longer than");
    buf_release(&b);
}

static void test_s3_xml_body_and_depth_caps(void)
{
    size_t big_len = (size_t)S3_XML_MAX_BODY + 1;
    char *big = xcalloc(big_len, 1);
    struct buf b;
    struct s3_xml_list l = {0};
    struct error err = ERROR_INIT;

    CHECK_ERR(s3_xml_parse_list(big, big_len, &l, &err), err, ERR_REMOTE, "over the");
    xfree(big);

    buf_init(&b, BUF_NO_CAP);
    buf_adds(&b, "<ListBucketResult>");
    for (int i = 0; i < 40; i++)
        buf_adds(&b, "<a>");
    for (int i = 0; i < 40; i++)
        buf_adds(&b, "</a>");
    buf_adds(&b, "</ListBucketResult>");
    CHECK_ERR(s3_xml_parse_list(b.data, b.len, &l, &err), err, ERR_REMOTE, "nested deeper than 32");
    buf_release(&b);
}

static void test_s3_xml_initiate_reads_upload_id(void)
{
    struct buf b;
    char *id = NULL;
    struct error err = ERROR_INIT;
    const char no_id[] =
        "<InitiateMultipartUploadResult><UploadId/></InitiateMultipartUploadResult>";

    fixture("initiate_aws.xml", &b);
    CHECK_OK(s3_xml_parse_initiate(b.data, b.len, &id, unit_err()));
    CHECK_STR_EQ(id, "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA");
    xfree(id);
    buf_release(&b);

    fixture("initiate_radosgw.xml", &b);
    CHECK_OK(s3_xml_parse_initiate(b.data, b.len, &id, unit_err()));
    CHECK_STR_EQ(id, "2~b3bQxGhM1rJk3lVdNKz0pYwTGc6uE8f");
    xfree(id);
    buf_release(&b);

    CHECK_ERR(s3_xml_parse_initiate(no_id, strlen(no_id), &id, &err), err, ERR_REMOTE,
              "no <UploadId>");
    CHECK(id == NULL);
}

static void test_s3_xml_complete_reads_etag(void)
{
    struct buf b;
    char *etag = NULL;

    fixture("complete_aws.xml", &b);
    CHECK_OK(s3_xml_parse_complete(b.data, b.len, &etag, NULL, unit_err()));
    CHECK_STR_EQ(etag, "3858f62230ac3c915f300c664312c11f-9");
    xfree(etag);
    buf_release(&b);
}

/* Captured from radosgw 16.2.15 (Debian 12): a successful completion with an empty ETag. */
static void test_s3_xml_complete_accepts_radosgw_empty_etag(void)
{
    struct buf b;
    char *etag = NULL;

    fixture("complete_radosgw_empty_etag.xml", &b);
    CHECK_OK(s3_xml_parse_complete(b.data, b.len, &etag, NULL, unit_err()));
    CHECK(etag == NULL);
    buf_release(&b);
}

static void test_s3_xml_complete_error_inside_200(void)
{
    struct buf b;
    char *etag = NULL;
    struct s3_xml_error e;
    struct error err = ERROR_INIT;

    fixture("complete_error_in_200.xml", &b);
    CHECK(b.data[0] == ' '); /* the blanks S3 sends while it assembles the parts */
    memset(&e, 0, sizeof(e));
    CHECK_ERR(s3_xml_parse_complete(b.data, b.len, &etag, &e, &err), err, ERR_REMOTE,
              "CompleteMultipartUpload response: S3 error InternalError: We encountered an "
              "internal error. Please try again. (request id 656c76696e6727732072657175657374)");
    CHECK(etag == NULL);
    CHECK_STR_EQ(e.code, "InternalError");
    CHECK_STR_EQ(e.request_id, "656c76696e6727732072657175657374");
    /* s3err may be NULL. */
    CHECK_ERR(s3_xml_parse_complete(b.data, b.len, &etag, NULL, &err), err, ERR_REMOTE,
              "S3 error InternalError");
    buf_release(&b);

    /* An empty message (radosgw) and no request id. */
    CHECK_ERR(s3_xml_parse_complete("<Error><Code>EntityTooSmall</Code><Message/></Error>", 52,
                                    &etag, NULL, &err),
              err, ERR_REMOTE, "S3 error EntityTooSmall");
    CHECK(strstr(err.msg, "request id") == NULL);
}

static void test_s3_xml_copy_object_and_part(void)
{
    struct buf b;
    char *etag = NULL;
    struct s3_xml_error e;
    struct error err = ERROR_INIT;

    fixture("copy_object_aws.xml", &b);
    CHECK_OK(s3_xml_parse_copy(b.data, b.len, &etag, NULL, unit_err()));
    CHECK_STR_EQ(etag, "9b2cf535f27731c974343645a3985328");
    xfree(etag);
    buf_release(&b);

    fixture("copy_part_aws.xml", &b);
    CHECK_OK(s3_xml_parse_copy(b.data, b.len, &etag, NULL, unit_err()));
    CHECK_STR_EQ(etag, "b9b6f5c9c3ab12ebd6d2a2e6f1b2ef8b");
    xfree(etag);
    buf_release(&b);

    fixture("error_radosgw_nosuchbucket.xml", &b);
    CHECK_ERR(s3_xml_parse_copy(b.data, b.len, &etag, &e, &err), err, ERR_REMOTE,
              "CopyObject response: S3 error NoSuchBucket (request id tx000000a1b2c3d4e5f6071");
    CHECK_STR_EQ(e.code, "NoSuchBucket");
    buf_release(&b);

    CHECK_ERR(s3_xml_parse_copy("<CopyObjectResult/>", 19, &etag, NULL, &err), err, ERR_REMOTE,
              "no <ETag> in <CopyObjectResult>");
    CHECK_ERR(s3_xml_parse_copy("<CompleteMultipartUploadResult/>", 32, &etag, NULL, &err), err,
              ERR_REMOTE, "unexpected root element");
}

static void test_s3_xml_uploads_reads_aws_example(void)
{
    struct buf b;
    struct s3_xml_uploads u = {0};

    fixture("list_uploads_aws.xml", &b);
    CHECK_OK(s3_xml_parse_uploads(b.data, b.len, &u, unit_err()));
    CHECK(u.is_truncated);
    CHECK_STR_EQ(u.next_key_marker, "my-movie.m2ts");
    CHECK_STR_EQ(u.next_upload_id_marker, "YW55IGlkZWEgd2h5IGVsdmluZydzIHVwbG9hZCBmYWlsZWQ");
    CHECK_INT_EQ(u.upload_count, 3);
    CHECK_STR_EQ(u.uploads[0].key, "my-divisor");
    CHECK_STR_EQ(u.uploads[0].upload_id, "XMgbGlrZSBlbHZpbmcncyBub3QgaGF2aW5nIG11Y2ggbHVjaw");
    CHECK_INT_EQ(u.uploads[0].initiated, 1289422113); /* 2010-11-10T20:48:33Z */
    CHECK_STR_EQ(u.uploads[2].key, "my-movie.m2ts");
    CHECK_INT_EQ(u.uploads[2].initiated, 1289422173);
    s3_xml_uploads_release(&u);
    CHECK(u.uploads == NULL && u.upload_count == 0 && u.next_key_marker == NULL);
    buf_release(&b);
}

static void test_s3_xml_uploads_empty_markers_are_absent(void)
{
    struct buf b;
    struct s3_xml_uploads u = {0};
    struct error err = ERROR_INIT;
    const char no_id[] = "<ListMultipartUploadsResult><Upload><Key>k</Key></Upload>"
                         "</ListMultipartUploadsResult>";

    fixture("list_uploads_radosgw_empty.xml", &b);
    CHECK_OK(s3_xml_parse_uploads(b.data, b.len, &u, unit_err()));
    CHECK_INT_EQ(u.upload_count, 0);
    CHECK(!u.is_truncated);
    CHECK(u.next_key_marker == NULL);
    CHECK(u.next_upload_id_marker == NULL);
    s3_xml_uploads_release(&u);
    buf_release(&b);

    CHECK_ERR(s3_xml_parse_uploads(no_id, strlen(no_id), &u, &err), err, ERR_REMOTE,
              "<Upload> number 1 lacks <Key> or <UploadId>");
}

static void test_s3_xml_delete_result_with_failures(void)
{
    struct buf b;
    struct s3_xml_delete_result r = {0};

    fixture("delete_result_failures.xml", &b);
    CHECK_OK(s3_xml_parse_delete(b.data, b.len, &r, unit_err()));
    CHECK_INT_EQ(r.deleted_count, 2);
    CHECK_INT_EQ(r.failure_count, 2);
    CHECK_STR_EQ(r.failures[0].key, "sample2.txt");
    CHECK_STR_EQ(r.failures[0].code, "AccessDenied");
    CHECK_STR_EQ(r.failures[0].message, "Access Denied");
    CHECK_STR_EQ(r.failures[1].key, "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac.txt");
    CHECK_STR_EQ(r.failures[1].code, "InternalError");
    CHECK_STR_EQ(r.failures[1].message, "");
    s3_xml_delete_result_release(&r);
    CHECK(r.failures == NULL && r.failure_count == 0 && r.deleted_count == 0);
    buf_release(&b);

    fixture("delete_result_radosgw_quiet.xml", &b);
    CHECK_OK(s3_xml_parse_delete(b.data, b.len, &r, unit_err()));
    CHECK_INT_EQ(r.deleted_count, 0);
    CHECK_INT_EQ(r.failure_count, 0);
    s3_xml_delete_result_release(&r);
    buf_release(&b);

    /* A failure without <Key> still has a printable key. */
    CHECK_OK(s3_xml_parse_delete("<DeleteResult><Error><Code>X</Code></Error></DeleteResult>", 58,
                                 &r, unit_err()));
    CHECK_INT_EQ(r.failure_count, 1);
    CHECK_STR_EQ(r.failures[0].key, "");
    CHECK_STR_EQ(r.failures[0].code, "X");
    s3_xml_delete_result_release(&r);
}

static void test_s3_xml_write_complete_exact_text(void)
{
    const struct s3_xml_part parts[] = {
        {1, "\"a54357aff0632cce46d942af68356b38\""},
        {2, "0c78aef83f66abc1fa1e8477f296d394"},
        {3, "\"acbd18db4cc2f85cedef654fccc4a4d8-2\""},
    };
    struct buf b;

    buf_init(&b, BUF_NO_CAP);
    buf_adds(&b, "keep:");
    CHECK_OK(s3_xml_write_complete(&b, parts, 3, unit_err()));
    CHECK_STR_EQ(b.data, "keep:<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/"
                         "2006-03-01/\"><Part><PartNumber>1</PartNumber><ETag>"
                         "\"a54357aff0632cce46d942af68356b38\"</ETag></Part><Part><PartNumber>2"
                         "</PartNumber><ETag>\"0c78aef83f66abc1fa1e8477f296d394\"</ETag></Part>"
                         "<Part><PartNumber>3</PartNumber><ETag>"
                         "\"acbd18db4cc2f85cedef654fccc4a4d8-2\"</ETag></Part>"
                         "</CompleteMultipartUpload>");
    buf_release(&b);
}

static void test_s3_xml_write_complete_refuses_bad_parts(void)
{
    const struct s3_xml_part order[] = {{2, "a"}, {1, "b"}};
    const struct s3_xml_part zero[] = {{0, "a"}};
    const struct s3_xml_part no_etag[] = {{1, "\"\""}};
    const struct s3_xml_part null_etag[] = {{1, NULL}};
    const struct s3_xml_part ctl[] = {{1, "a\x01"}};
    struct buf b;
    struct error err = ERROR_INIT;

    buf_init(&b, BUF_NO_CAP);
    buf_adds(&b, "x");
    CHECK_ERR(s3_xml_write_complete(&b, order, 2, &err), err, ERR_USAGE, "out of range or order");
    CHECK_ERR(s3_xml_write_complete(&b, zero, 1, &err), err, ERR_USAGE, "part number 0");
    CHECK_ERR(s3_xml_write_complete(&b, no_etag, 1, &err), err, ERR_USAGE, "part 1 has no ETag");
    CHECK_ERR(s3_xml_write_complete(&b, null_etag, 1, &err), err, ERR_USAGE, "no ETag");
    CHECK_ERR(s3_xml_write_complete(&b, ctl, 1, &err), err, ERR_USAGE, "XML cannot carry");
    CHECK_ERR(s3_xml_write_complete(&b, order, 0, &err), err, ERR_USAGE, "with 0 parts");
    /* Failures leave the buffer as it was. */
    CHECK_STR_EQ(b.data, "x");
    buf_release(&b);

    buf_init(&b, 100);
    CHECK_ERR(s3_xml_write_complete(&b, order + 1, 1, &err), err, ERR_USAGE, "cap of 100 bytes");
    CHECK_INT_EQ(b.len, 0);
    buf_release(&b);
}

/* Turns a Delete request body into a ListBucketResult, so that the list parser (expat) reads the
 * keys back. Keys are escaped, so the tag names cannot occur inside them. */
static void delete_body_as_listing(const char *body, struct buf *out)
{
    const char *p = body;

    buf_init(out, BUF_NO_CAP);
    while (*p) {
        if (strncmp(p, "<Delete ", 8) == 0) {
            buf_adds(out, "<ListBucketResult ");
            p += 8;
        } else if (strncmp(p, "</Delete>", 9) == 0) {
            buf_adds(out, "</ListBucketResult>");
            p += 9;
        } else if (strncmp(p, "<Object>", 8) == 0) {
            buf_adds(out, "<Contents>");
            p += 8;
        } else if (strncmp(p, "</Object>", 9) == 0) {
            buf_adds(out, "</Contents>");
            p += 9;
        } else {
            buf_add(out, p, 1);
            p++;
        }
    }
}

static void test_s3_xml_write_delete_round_trips(void)
{
    static const char *const keys[] = {
        "db/20261124T031500Z-k3f9/mastodon_production.dump.zst",
        "a & b <c> d]]>e",
        "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\x90\x98.txt",
        "  spaces  around  ",
        "tab\there\r\nnew line",
        "quote\"apos'",
    };
    size_t count = sizeof(keys) / sizeof(keys[0]);
    struct buf b;
    struct buf as_list;
    struct s3_xml_list l = {0};

    buf_init(&b, BUF_NO_CAP);
    CHECK_OK(s3_xml_write_delete(&b, keys, count, unit_err()));
    CHECK(strncmp(b.data,
                  "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>"
                  "<Object><Key>db/20261124T031500Z-k3f9/mastodon_production.dump.zst</Key>"
                  "</Object><Object><Key>a &amp; b &lt;c&gt; d]]&gt;e</Key></Object>",
                  strlen("<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true"
                         "</Quiet><Object><Key>db/20261124T031500Z-k3f9/mastodon_production.dump"
                         ".zst</Key></Object><Object><Key>a &amp; b &lt;c&gt; d]]&gt;e</Key>"
                         "</Object>")) == 0);
    CHECK(strstr(b.data, "<Key>tab&#9;here&#13;&#10;new line</Key>") != NULL);
    CHECK(strstr(b.data, "</Object></Delete>") != NULL);

    delete_body_as_listing(b.data, &as_list);
    CHECK_OK(s3_xml_parse_list(as_list.data, as_list.len, &l, unit_err()));
    CHECK_INT_EQ(l.object_count, count);
    for (size_t i = 0; i < count; i++)
        CHECK_STR_EQ(l.objects[i].key, keys[i]);
    s3_xml_list_release(&l);
    buf_release(&as_list);
    buf_release(&b);
}

static void test_s3_xml_write_delete_refuses_what_xml_cannot_carry(void)
{
    static const char *const ctl[] = {"ok", "bell\a"};
    static const char *const bad_utf8[] = {"\xc3("};
    static const char *const surrogate[] = {"\xed\xa0\x80"};
    static const char *const overlong[] = {"\xc0\xaf"};
    static const char *const nonchar[] = {"\xef\xbf\xbe"};
    static const char *const empty[] = {""};
    const char **many = xcalloc(1001, sizeof(*many));
    struct buf b;
    struct error err = ERROR_INIT;

    buf_init(&b, BUF_NO_CAP);
    CHECK_ERR(s3_xml_write_delete(&b, ctl, 2, &err), err, ERR_USAGE,
              "key number 2 has a character XML cannot carry");
    CHECK_ERR(s3_xml_write_delete(&b, bad_utf8, 1, &err), err, ERR_USAGE, "invalid UTF-8");
    CHECK_ERR(s3_xml_write_delete(&b, surrogate, 1, &err), err, ERR_USAGE, "cannot carry");
    CHECK_ERR(s3_xml_write_delete(&b, overlong, 1, &err), err, ERR_USAGE, "cannot carry");
    CHECK_ERR(s3_xml_write_delete(&b, nonchar, 1, &err), err, ERR_USAGE, "cannot carry");
    CHECK_ERR(s3_xml_write_delete(&b, empty, 1, &err), err, ERR_USAGE, "key number 1 is empty");
    CHECK_ERR(s3_xml_write_delete(&b, empty, 0, &err), err, ERR_USAGE, "with 0 keys");
    for (int i = 0; i < 1001; i++)
        many[i] = "k";
    CHECK_ERR(s3_xml_write_delete(&b, many, 1001, &err), err, ERR_USAGE, "with 1001 keys");
    CHECK_INT_EQ(b.len, 0);
    CHECK_OK(s3_xml_write_delete(&b, many, 1000, unit_err()));
    xfree(many);
    buf_release(&b);

    buf_init(&b, 80);
    CHECK_ERR(s3_xml_write_delete(&b, ctl, 1, &err), err, ERR_USAGE, "cap of 80 bytes");
    CHECK_INT_EQ(b.len, 0);
    buf_release(&b);
}

static void test_s3_xml_parse_time_forms(void)
{
    time_t t = 42;

    CHECK(s3_xml_parse_time("2026-11-24T03:15:00.000Z", &t));
    CHECK_INT_EQ(t, 1795490100);
    CHECK(s3_xml_parse_time("2026-11-24T03:15:00Z", &t));
    CHECK_INT_EQ(t, 1795490100);
    CHECK(s3_xml_parse_time("2026-11-24T03:15:00.123456789Z", &t));
    CHECK_INT_EQ(t, 1795490100);
    CHECK(s3_xml_parse_time("1970-01-01T00:00:00Z", &t));
    CHECK_INT_EQ(t, 0);
    CHECK(s3_xml_parse_time("2024-02-29T23:59:59.5Z", &t));
    CHECK_INT_EQ(t, 1709251199);

    t = 42;
    CHECK(!s3_xml_parse_time("", &t));
    CHECK(!s3_xml_parse_time("2026-11-24T03:15:00", &t));       /* no zone */
    CHECK(!s3_xml_parse_time("2026-11-24T03:15:00+01:00", &t)); /* not UTC */
    CHECK(!s3_xml_parse_time("2026-11-24 03:15:00Z", &t));
    CHECK(!s3_xml_parse_time("2026-11-24T03:15:00.Z", &t));
    CHECK(!s3_xml_parse_time("2026-11-24T03:15:00.0000000000Z", &t));
    CHECK(!s3_xml_parse_time("2026-11-24T03:15:00ZZ", &t));
    CHECK(!s3_xml_parse_time("2026-13-01T00:00:00Z", &t));
    CHECK(!s3_xml_parse_time("2026-02-30T00:00:00Z", &t));
    CHECK(!s3_xml_parse_time("2025-02-29T00:00:00Z", &t));
    CHECK(!s3_xml_parse_time("2026-11-24T24:00:00Z", &t));
    CHECK(!s3_xml_parse_time("2026-11-24T03:60:00Z", &t));
    CHECK(!s3_xml_parse_time("2026-11-24T03:15:60Z", &t));
    CHECK(!s3_xml_parse_time("+026-11-24T03:15:00Z", &t));
    CHECK(!s3_xml_parse_time("2026-1-24T03:15:00Z", &t));
    CHECK_INT_EQ(t, 42); /* untouched on failure */
}

static void test_s3_xml_release_is_safe_on_zeroed_structs(void)
{
    struct s3_xml_list l = {0};
    struct s3_xml_uploads u = {0};
    struct s3_xml_delete_result r = {0};

    s3_xml_list_release(&l);
    s3_xml_uploads_release(&u);
    s3_xml_delete_result_release(&r);
    s3_xml_list_release(&l);
    CHECK(l.objects == NULL && u.uploads == NULL && r.failures == NULL);
}

static void test_s3_xml_version_names_expat(void)
{
    CHECK(strncmp(s3_xml_version(), "expat_", 6) == 0);
}

/* GetObjectAcl bodies as radosgw and AWS send them: public-read is an AllUsers READ grant. */
static void test_s3_xml_acl_public_read(void)
{
    static const char head[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><AccessControlPolicy "
        "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Owner><ID>o</ID></Owner>"
        "<AccessControlList>";
    static const char owner[] =
        "<Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
        "xsi:type=\"CanonicalUser\"><ID>o</ID></Grantee><Permission>FULL_CONTROL</Permission>"
        "</Grant>";
    static const char all_read[] =
        "<Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
        "xsi:type=\"Group\"><URI>http://acs.amazonaws.com/groups/global/AllUsers</URI>"
        "</Grantee><Permission>READ</Permission></Grant>";
    static const char auth_read[] =
        "<Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
        "xsi:type=\"Group\"><URI>http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
        "</URI></Grantee><Permission>READ</Permission></Grant>";
    static const char all_write[] =
        "<Grant><Grantee><URI>http://acs.amazonaws.com/groups/global/AllUsers</URI>"
        "</Grantee><Permission>WRITE</Permission></Grant>";
    static const char tail[] = "</AccessControlList></AccessControlPolicy>";
    struct error err = ERROR_INIT;
    char body[4096];
    bool is_public = true;

    (void)snprintf(body, sizeof(body), "%s%s%s", head, owner, tail);
    CHECK_OK(s3_xml_parse_acl(body, strlen(body), &is_public, unit_err()));
    CHECK(!is_public);
    (void)snprintf(body, sizeof(body), "%s%s%s%s", head, owner, all_read, tail);
    CHECK_OK(s3_xml_parse_acl(body, strlen(body), &is_public, unit_err()));
    CHECK(is_public);
    (void)snprintf(body, sizeof(body), "%s%s%s%s", head, auth_read, all_write, tail);
    CHECK_OK(s3_xml_parse_acl(body, strlen(body), &is_public, unit_err()));
    CHECK(!is_public);
    CHECK_ERR(s3_xml_parse_acl("<ListBucketResult/>", 19, &is_public, &err), err, ERR_REMOTE,
              "unexpected root");
    (void)snprintf(body, sizeof(body), "%s",
                   "<Error><Code>AccessDenied</Code><Message>no</Message></Error>");
    CHECK_ERR(s3_xml_parse_acl(body, strlen(body), &is_public, &err), err, ERR_REMOTE,
              "AccessDenied");
}

const struct unit_test s3_xml_tests[] = {
    {"s3_xml_acl_public_read", test_s3_xml_acl_public_read},
    {"test_s3_xml_error_reads_aws_fields", test_s3_xml_error_reads_aws_fields},
    {"test_s3_xml_error_accepts_radosgw_empty_message",
     test_s3_xml_error_accepts_radosgw_empty_message},
    {"test_s3_xml_error_reads_region_and_unescapes", test_s3_xml_error_reads_region_and_unescapes},
    {"test_s3_xml_error_cuts_long_message_at_character",
     test_s3_xml_error_cuts_long_message_at_character},
    {"test_s3_xml_error_refuses_other_root", test_s3_xml_error_refuses_other_root},
    {"test_s3_xml_list_reads_aws_example", test_s3_xml_list_reads_aws_example},
    {"test_s3_xml_list_unescapes_keys_with_amp_unicode_spaces",
     test_s3_xml_list_unescapes_keys_with_amp_unicode_spaces},
    {"test_s3_xml_list_empty", test_s3_xml_list_empty},
    {"test_s3_xml_list_truncated_gives_token", test_s3_xml_list_truncated_gives_token},
    {"test_s3_xml_list_common_prefixes", test_s3_xml_list_common_prefixes},
    {"test_s3_xml_list_v1_next_marker", test_s3_xml_list_v1_next_marker},
    {"test_s3_xml_list_matches_local_names_whatever_the_prefix",
     test_s3_xml_list_matches_local_names_whatever_the_prefix},
    {"test_s3_xml_list_error_body_gives_s3_code", test_s3_xml_list_error_body_gives_s3_code},
    {"test_s3_xml_list_refuses_bad_values", test_s3_xml_list_refuses_bad_values},
    {"test_s3_xml_malformed_names_expat_error_and_line",
     test_s3_xml_malformed_names_expat_error_and_line},
    {"test_s3_xml_truncated_bodies_refused", test_s3_xml_truncated_bodies_refused},
    {"test_s3_xml_doctype_refused", test_s3_xml_doctype_refused},
    {"test_s3_xml_oversized_value_refused", test_s3_xml_oversized_value_refused},
    {"test_s3_xml_body_and_depth_caps", test_s3_xml_body_and_depth_caps},
    {"test_s3_xml_initiate_reads_upload_id", test_s3_xml_initiate_reads_upload_id},
    {"test_s3_xml_complete_reads_etag", test_s3_xml_complete_reads_etag},
    {"test_s3_xml_complete_accepts_radosgw_empty_etag",
     test_s3_xml_complete_accepts_radosgw_empty_etag},
    {"test_s3_xml_complete_error_inside_200", test_s3_xml_complete_error_inside_200},
    {"test_s3_xml_copy_object_and_part", test_s3_xml_copy_object_and_part},
    {"test_s3_xml_uploads_reads_aws_example", test_s3_xml_uploads_reads_aws_example},
    {"test_s3_xml_uploads_empty_markers_are_absent", test_s3_xml_uploads_empty_markers_are_absent},
    {"test_s3_xml_delete_result_with_failures", test_s3_xml_delete_result_with_failures},
    {"test_s3_xml_write_complete_exact_text", test_s3_xml_write_complete_exact_text},
    {"test_s3_xml_write_complete_refuses_bad_parts", test_s3_xml_write_complete_refuses_bad_parts},
    {"test_s3_xml_write_delete_round_trips", test_s3_xml_write_delete_round_trips},
    {"test_s3_xml_write_delete_refuses_what_xml_cannot_carry",
     test_s3_xml_write_delete_refuses_what_xml_cannot_carry},
    {"test_s3_xml_parse_time_forms", test_s3_xml_parse_time_forms},
    {"test_s3_xml_release_is_safe_on_zeroed_structs",
     test_s3_xml_release_is_safe_on_zeroed_structs},
    {"test_s3_xml_version_names_expat", test_s3_xml_version_names_expat},
    {NULL, NULL},
};
