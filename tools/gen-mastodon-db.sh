#!/usr/bin/env bash
# Generates a Mastodon-shaped PostgreSQL database for tests, the demo and the benchmark.
# Run with --help for the usage.
set -euo pipefail

prog=${0##*/}

usage()
{
    cat <<EOF
usage: $prog [--size-mb N] [--seed N] [--replace] [-q] -- PSQL-CONNECTION-ARGS...
       $prog [--size-mb N] [--seed N] [--replace] [-q] CONNINFO

Fills an existing, empty database with a Mastodon-shaped schema and data: the tables accounts,
statuses, media_attachments, follows and favourites with Mastodon's column names and types
(timestamp_id() snowflake bigint ids, jsonb accounts.fields, json media_attachments.file_meta,
bigint[] statuses.ordered_media_attachment_ids, ...), Mastodon's main indexes (partial, expression,
unique, GIN) and foreign keys, plus schema_migrations (head 20240307151700) and ar_internal_metadata.

All rows are generated on the server (generate_series, text sliced from a random word corpus), so
it is fast: about 100 MB in ~10 s on 2 cores. The objects belong to the connecting role; connect as
the role that the backup will use (e.g. mastodon), not as a superuser.

options:
  --size-mb N   target pg_database_size in MB, approximately (default 100; 1600 gives ~1.6 GB;
                the smallest database it makes is ~12 MB)
  --seed N      seed for the generated data (default 1); the same seed gives the same rows
  --replace     drop the generated tables first if they exist (otherwise refuse)
  -q, --quiet   print only errors
  -h, --help    this text

The connection: either everything after '--' is passed to psql (e.g. -h /tmp/pg -p 5432 -U mastodon
-d mastodon_production), or a single libpq conninfo/URI is given (e.g.
'host=127.0.0.1 port=5432 dbname=mastodon_production user=mastodon'); a password comes from
PGPASSWORD or ~/.pgpass as usual. psql is taken from \$PSQL, else \$PG_BIN/psql, else PATH.

examples:
  $prog --size-mb 20 -- -h /tmp/pg -p 5433 -U mastodon -d mastodon_production
  PGPASSWORD=\$DB_PASS $prog --size-mb 1600 'host=127.0.0.1 port=5433 dbname=bench user=mastodon'
EOF
}

die()
{
    printf '%s: error: %s\n' "$prog" "$*" >&2
    exit 2
}

size_mb=100
seed=1
replace=0
quiet=0
psql_args=()
while (($#)); do
    case $1 in
    --size-mb) (($# >= 2)) || die "--size-mb needs a value"; size_mb=$2; shift 2 ;;
    --size-mb=*) size_mb=${1#*=}; shift ;;
    --seed) (($# >= 2)) || die "--seed needs a value"; seed=$2; shift 2 ;;
    --seed=*) seed=${1#*=}; shift ;;
    --replace) replace=1; shift ;;
    -q | --quiet) quiet=1; shift ;;
    -h | --help) usage; exit 0 ;;
    --) shift; psql_args=("$@"); break ;;
    -*) die "unknown option '$1' (see --help)" ;;
    *)
        (($# == 1)) || die "give one conninfo, or psql arguments after '--' (see --help)"
        psql_args=(-d "$1")
        shift
        ;;
    esac
done
((${#psql_args[@]})) || die "no connection given (see --help)"
if ! [[ $size_mb =~ ^[0-9]{1,7}$ ]] || ((size_mb < 1)); then
    die "--size-mb must be a whole number of megabytes >= 1"
fi
if ! [[ $seed =~ ^[0-9]{1,9}$ ]]; then
    die "--seed must be a whole number below 10^9"
fi

if [[ -n ${PSQL:-} ]]; then
    psql_bin=$PSQL
elif [[ -n ${PG_BIN:-} && -x ${PG_BIN}/psql ]]; then
    psql_bin=$PG_BIN/psql
else
    psql_bin=psql
fi

say()
{
    ((quiet)) || printf '%s: %s\n' "$prog" "$*" >&2
}

run_psql()
{
    "$psql_bin" -X -q -v ON_ERROR_STOP=1 "${psql_args[@]}" "$@"
}

# --- row counts -------------------------------------------------------------------------------
# Calibrated so that pg_database_size comes out close to --size-mb (measured at 100 and 1600 MB;
# an empty database is ~7.5 MB). Per status there are ~1.2 favourites, ~0.15 media attachments,
# 1/16 account and 8 follows per account: roughly the shape of a federated instance.
data_kb=$((size_mb * 1024 - 7600))
((data_kb > 200)) || data_kb=200
statuses=$((data_kb * 1000 / 1140))
((statuses >= 3000)) || statuses=3000
accounts=$((statuses / 16))
((accounts >= 200)) || accounts=200
follows_per=$((accounts / 4 < 8 ? accounts / 4 : 8))
follows=$((accounts * follows_per))
favourites=$((statuses * 6 / 5))
# Favourites go to non-reblog statuses: k in [0, fav_span) maps to one of them (see fav_g).
fav_span=$((6 * ((statuses - 13) / 7)))
gcd()
{
    local a=$1 b=$2 t
    while ((b)); do t=$((a % b)); a=$b; b=$t; done
    printf '%s\n' "$a"
}
# k = (round * fav_p + account * 7919) mod fav_span is unique per account when gcd(fav_p, fav_span) = 1
fav_p=1000003
while (($(gcd "$fav_p" "$fav_span") != 1)); do fav_p=$((fav_p + 2)); done

# Statuses between 2019-01-01 and 2024-03-07 (UTC), accounts between 2016-04-01 and 2024-03-01;
# ids are Mastodon snowflakes: milliseconds << 16 | 16 low bits.
s_base_ms=1546300800000
s_span_ms=$((1709769600000 - s_base_ms))
s_step_ms=$((s_span_ms / statuses))
a_base_ms=1459468800000
a_span_ms=$((1709251200000 - a_base_ms))
a_step_ms=$((a_span_ms / accounts))
sd=$seed
# The corpus and its usable length as uncorrelated scalar subqueries: each becomes an InitPlan that
# runs once per statement, so the corpus is read into memory once and a slice costs O(len). (Joining
# a one-row CTE instead can make the planner rescan it, copying the whole corpus for every row.)
corpus="(SELECT b || ''::bytea FROM corpus), (SELECT length(b) - 4000 FROM corpus)"

say "generating ~${size_mb} MB: $statuses statuses, $accounts accounts, $follows follows," \
    "$favourites favourites (seed $seed)"

start_s=$SECONDS

existing=$(run_psql -At -c "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relname IN
    ('accounts', 'statuses', 'media_attachments', 'follows', 'favourites', 'schema_migrations',
     'ar_internal_metadata')")
if ((existing > 0)) && ((!replace)); then
    die "the database already has Mastodon tables; use --replace to drop and regenerate them"
fi

# The SQL below is a bash here-document: ${...} are bash values, so the SQL uses no '$'
# (function bodies are single-quoted strings, with '' for a quote).
run_psql <<SQL
\\set QUIET on
SET client_min_messages = warning;
SET TimeZone = 'UTC';
SET synchronous_commit = off;
SET maintenance_work_mem = '256MB';
SET work_mem = '64MB';
SELECT setseed(${seed} / 2147483647.0) \\g /dev/null

-- All in one transaction: a failure leaves nothing behind, and with wal_level=minimal the
-- tables created here are loaded without WAL.
BEGIN;

DROP TABLE IF EXISTS favourites, follows, media_attachments, statuses, accounts,
    schema_migrations, ar_internal_metadata CASCADE;
DROP SEQUENCE IF EXISTS accounts_id_seq, statuses_id_seq, media_attachments_id_seq;

-- Mastodon's snowflake id function (lib/mastodon/snowflake.rb): milliseconds since the epoch in
-- the high 48 bits, a per-table sequence scrambled by a hash in the low 16.
CREATE OR REPLACE FUNCTION timestamp_id(table_name text) RETURNS bigint
LANGUAGE plpgsql VOLATILE AS '
  DECLARE
    time_part bigint;
    sequence_base bigint;
    tail bigint;
  BEGIN
    time_part := (((date_part(''epoch'', now()) * 1000))::bigint << 16);
    sequence_base := (''x'' || substr(md5(table_name || ''permafrost-test'' || time_part::text), 1, 4))::bit(16)::bigint;
    tail := ((sequence_base + nextval(table_name || ''_id_seq'')) & 65535);
    RETURN time_part | tail;
  END';

CREATE SEQUENCE accounts_id_seq;
CREATE SEQUENCE statuses_id_seq;
CREATE SEQUENCE media_attachments_id_seq;

CREATE TABLE schema_migrations (version character varying NOT NULL PRIMARY KEY);
CREATE TABLE ar_internal_metadata (
    key character varying NOT NULL PRIMARY KEY,
    value character varying,
    created_at timestamp(6) without time zone NOT NULL,
    updated_at timestamp(6) without time zone NOT NULL
);

CREATE TABLE accounts (
    id bigint DEFAULT timestamp_id('accounts'::text) NOT NULL,
    username character varying DEFAULT ''::character varying NOT NULL,
    domain character varying,
    private_key text,
    public_key text DEFAULT ''::text NOT NULL,
    created_at timestamp without time zone NOT NULL,
    updated_at timestamp without time zone NOT NULL,
    note text DEFAULT ''::text NOT NULL,
    display_name character varying DEFAULT ''::character varying NOT NULL,
    uri character varying DEFAULT ''::character varying NOT NULL,
    url character varying,
    avatar_file_name character varying,
    avatar_content_type character varying,
    avatar_file_size integer,
    avatar_updated_at timestamp without time zone,
    header_file_name character varying,
    header_content_type character varying,
    header_file_size integer,
    header_updated_at timestamp without time zone,
    avatar_remote_url character varying,
    locked boolean DEFAULT false NOT NULL,
    header_remote_url character varying DEFAULT ''::character varying NOT NULL,
    last_webfingered_at timestamp without time zone,
    inbox_url character varying DEFAULT ''::character varying NOT NULL,
    outbox_url character varying DEFAULT ''::character varying NOT NULL,
    shared_inbox_url character varying DEFAULT ''::character varying NOT NULL,
    followers_url character varying DEFAULT ''::character varying NOT NULL,
    protocol integer DEFAULT 0 NOT NULL,
    memorial boolean DEFAULT false NOT NULL,
    moved_to_account_id bigint,
    featured_collection_url character varying,
    fields jsonb,
    actor_type character varying,
    discoverable boolean,
    also_known_as character varying[],
    silenced_at timestamp without time zone,
    suspended_at timestamp without time zone,
    hide_collections boolean,
    avatar_storage_schema_version integer,
    header_storage_schema_version integer,
    devices_url character varying,
    suspension_origin integer,
    sensitized_at timestamp without time zone,
    trendable boolean,
    reviewed_at timestamp without time zone,
    requested_review_at timestamp without time zone,
    indexable boolean DEFAULT false NOT NULL
);

CREATE TABLE statuses (
    id bigint DEFAULT timestamp_id('statuses'::text) NOT NULL,
    uri character varying,
    text text DEFAULT ''::text NOT NULL,
    created_at timestamp without time zone NOT NULL,
    updated_at timestamp without time zone NOT NULL,
    in_reply_to_id bigint,
    reblog_of_id bigint,
    url character varying,
    sensitive boolean DEFAULT false NOT NULL,
    visibility integer DEFAULT 0 NOT NULL,
    spoiler_text text DEFAULT ''::text NOT NULL,
    reply boolean DEFAULT false NOT NULL,
    language character varying,
    conversation_id bigint,
    local boolean,
    account_id bigint NOT NULL,
    application_id bigint,
    in_reply_to_account_id bigint,
    poll_id bigint,
    deleted_at timestamp without time zone,
    edited_at timestamp without time zone,
    trendable boolean,
    ordered_media_attachment_ids bigint[]
);

CREATE TABLE media_attachments (
    id bigint DEFAULT timestamp_id('media_attachments'::text) NOT NULL,
    status_id bigint,
    file_file_name character varying,
    file_content_type character varying,
    file_file_size integer,
    file_updated_at timestamp without time zone,
    remote_url character varying DEFAULT ''::character varying NOT NULL,
    created_at timestamp without time zone NOT NULL,
    updated_at timestamp without time zone NOT NULL,
    shortcode character varying,
    type integer DEFAULT 0 NOT NULL,
    file_meta json,
    account_id bigint,
    description text,
    scheduled_status_id bigint,
    blurhash character varying,
    processing integer,
    file_storage_schema_version integer,
    thumbnail_file_name character varying,
    thumbnail_content_type character varying,
    thumbnail_file_size integer,
    thumbnail_updated_at timestamp without time zone,
    thumbnail_remote_url character varying
);

CREATE TABLE follows (
    id bigint NOT NULL,
    created_at timestamp without time zone NOT NULL,
    updated_at timestamp without time zone NOT NULL,
    account_id bigint NOT NULL,
    target_account_id bigint NOT NULL,
    show_reblogs boolean DEFAULT true NOT NULL,
    uri character varying,
    notify boolean DEFAULT false NOT NULL,
    languages character varying[]
);
CREATE SEQUENCE follows_id_seq OWNED BY follows.id;
ALTER TABLE follows ALTER COLUMN id SET DEFAULT nextval('follows_id_seq'::regclass);

CREATE TABLE favourites (
    id bigint NOT NULL,
    created_at timestamp without time zone NOT NULL,
    updated_at timestamp without time zone NOT NULL,
    account_id bigint NOT NULL,
    status_id bigint NOT NULL
);
CREATE SEQUENCE favourites_id_seq OWNED BY favourites.id;
ALTER TABLE favourites ALTER COLUMN id SET DEFAULT nextval('favourites_id_seq'::regclass);

-- Generator helpers: session-local, inlined by the planner, gone at disconnect.
-- h: a deterministic 31-bit hash of (n, salt), so that references between tables agree.
CREATE FUNCTION pg_temp.h(n bigint, salt int) RETURNS bigint LANGUAGE sql IMMUTABLE
    AS 'SELECT hashint8extended(n, salt + ${sd} * 64) & 2147483647';
CREATE FUNCTION pg_temp.s_ms(g bigint) RETURNS bigint LANGUAGE sql IMMUTABLE
    AS 'SELECT ${s_base_ms} + (g - 1) * ${s_step_ms} + pg_temp.h(g, 1) % ${s_step_ms}';
CREATE FUNCTION pg_temp.sid(g bigint) RETURNS bigint LANGUAGE sql IMMUTABLE
    AS 'SELECT (pg_temp.s_ms(g) << 16) | (pg_temp.h(g, 2) & 65535)';
-- the account (0-based index) of status g: a few accounts post most statuses
CREATE FUNCTION pg_temp.sacct(g bigint) RETURNS bigint LANGUAGE sql IMMUTABLE
    AS 'SELECT least(${accounts} - 1, floor(${accounts} * power(pg_temp.h(g, 3) / 2147483648.0, 2.5)))::bigint';
CREATE FUNCTION pg_temp.a_ms(a bigint) RETURNS bigint LANGUAGE sql IMMUTABLE
    AS 'SELECT ${a_base_ms} + a * ${a_step_ms} + pg_temp.h(a, 4) % ${a_step_ms}';
CREATE FUNCTION pg_temp.aid(a bigint) RETURNS bigint LANGUAGE sql IMMUTABLE
    AS 'SELECT (pg_temp.a_ms(a) << 16) | (a & 65535)';
CREATE FUNCTION pg_temp.is_local(a bigint) RETURNS boolean LANGUAGE sql IMMUTABLE
    AS 'SELECT a % 10 = 0';
CREATE FUNCTION pg_temp.is_rb(g bigint) RETURNS boolean LANGUAGE sql IMMUTABLE
    AS 'SELECT g % 7 = 3 AND g > 2200';
CREATE FUNCTION pg_temp.is_reply(g bigint) RETURNS boolean LANGUAGE sql IMMUTABLE
    AS 'SELECT g % 5 = 1 AND g > 2200 AND g % 7 <> 3';
CREATE FUNCTION pg_temp.has_media(g bigint) RETURNS boolean LANGUAGE sql IMMUTABLE
    AS 'SELECT g % 10 = 4 AND NOT (g % 7 = 3 AND g > 2200)';
CREATE FUNCTION pg_temp.nmedia(g bigint) RETURNS int LANGUAGE sql IMMUTABLE
    AS 'SELECT CASE WHEN pg_temp.h(g, 6) % 8 < 5 THEN 1 ELSE (pg_temp.h(g, 6) % 8)::int - 3 END';
CREATE FUNCTION pg_temp.mid(g bigint, k int) RETURNS bigint LANGUAGE sql IMMUTABLE
    AS 'SELECT ((pg_temp.s_ms(g) - k * 1000) << 16) | ((g * 4 + k) & 65535)';
-- the status a reblog (g % 7 = 3) or a reply points to: an earlier status that is no reblog
CREATE FUNCTION pg_temp.rb_target(g bigint) RETURNS bigint LANGUAGE sql IMMUTABLE
    AS 'SELECT g - 1 - 7 * (pg_temp.h(g, 7) % 300)';
CREATE FUNCTION pg_temp.reply_target(g bigint) RETURNS bigint LANGUAGE sql IMMUTABLE
    AS 'SELECT CASE WHEN (g - 1 - 7 * (pg_temp.h(g, 8) % 280)) % 7 = 3
                    THEN g - 2 - 7 * (pg_temp.h(g, 8) % 280)
                    ELSE g - 1 - 7 * (pg_temp.h(g, 8) % 280) END';
-- k in [0, fav_span) -> a status that is no reblog
CREATE FUNCTION pg_temp.fav_g(k bigint) RETURNS bigint LANGUAGE sql IMMUTABLE
    AS 'SELECT 7 * (k / 6) + k % 6 + (k % 6 >= 3)::int + 7';

CREATE FUNCTION pg_temp.dom(i bigint) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT (ARRAY[
    ''mastodon.social'', ''fosstodon.org'', ''hachyderm.io'', ''mstdn.social'', ''infosec.exchange'',
    ''mas.to'', ''techhub.social'', ''mastodon.online'', ''universeodon.com'', ''mastodon.world'',
    ''chaos.social'', ''social.vivaldi.net'', ''ioc.exchange'', ''mathstodon.xyz'', ''front-end.social'',
    ''indieweb.social'', ''mastodon.art'', ''sfba.social'', ''aus.social'', ''mstdn.jp'',
    ''pawoo.net'', ''mastodon.gamedev.place'', ''social.coop'', ''kolektiva.social'', ''toot.cafe'',
    ''ruby.social'', ''floss.social'', ''masto.ai'', ''c.im'', ''qoto.org'', ''mastodon.scot'',
    ''mastodon.green'', ''social.tchncs.de'', ''norden.social'', ''piaille.fr'', ''mamot.fr'',
    ''mastodon.nl'', ''mastodon.ie'', ''sigmoid.social'', ''newsie.social''])[1 + (i % 40)::int]';
CREATE FUNCTION pg_temp.uname(a bigint) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT (ARRAY[
    ''alice'', ''bob'', ''carol'', ''dave'', ''erin'', ''frank'', ''grace'', ''heidi'', ''ivan'',
    ''judy'', ''mallory'', ''niaj'', ''olivia'', ''peggy'', ''rupert'', ''sybil'', ''trent'', ''victor'',
    ''walter'', ''yuki'', ''zoe'', ''noah'', ''emma'', ''liam'', ''mia'', ''lea'', ''jonas'', ''sofia'',
    ''kenji'', ''hana'', ''pierre'', ''chloe'', ''mateo'', ''lucia'', ''ines'', ''omar'', ''fatima'',
    ''arjun'', ''priya'', ''wei'', ''mei'', ''olga'', ''igor'', ''sven'', ''astrid'', ''finn'', ''nora'',
    ''photos'', ''news'', ''bot'', ''dev'', ''admin'', ''art'', ''music'', ''birds'', ''cats'', ''linux'',
    ''rust'', ''coffee'', ''books''])[1 + (pg_temp.h(a, 9) % 60)::int] || a';
CREATE FUNCTION pg_temp.adom(a bigint) RETURNS text LANGUAGE sql IMMUTABLE
    AS 'SELECT CASE WHEN a % 10 = 0 THEN NULL ELSE pg_temp.dom(pg_temp.h(a, 10)) END';
CREATE FUNCTION pg_temp.host(a bigint) RETURNS text LANGUAGE sql IMMUTABLE
    AS 'SELECT coalesce(pg_temp.adom(a), ''toot.example'')';
CREATE FUNCTION pg_temp.tag(i bigint) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT (ARRAY[
    ''caturday'', ''photography'', ''mastodon'', ''fediverse'', ''linux'', ''opensource'', ''art'',
    ''music'', ''books'', ''climate'', ''science'', ''birds'', ''gardening'', ''cooking'', ''coffee'',
    ''rust'', ''python'', ''golang'', ''postgres'', ''selfhosting'', ''homelab'', ''privacy'',
    ''security'', ''infosec'', ''accessibility'', ''alttext'', ''introduction'', ''news'', ''politics'',
    ''nature'', ''hiking'', ''cycling'', ''running'', ''football'', ''gaming'', ''retrocomputing'',
    ''history'', ''astronomy'', ''space'', ''physics'', ''math'', ''writing'', ''poetry'', ''podcast'',
    ''film'', ''tv'', ''anime'', ''dogsofmastodon'', ''silentsunday'', ''monsterdon''])[1 + (i % 50)::int]';
CREATE FUNCTION pg_temp.lang(i bigint) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT (ARRAY[
    ''en'', ''en'', ''en'', ''en'', ''en'', ''en'', ''en'', ''en'', ''en'', ''en'', ''en'', ''en'',
    ''de'', ''de'', ''de'', ''ja'', ''ja'', ''fr'', ''fr'', ''es'', ''nl'', ''it'', ''pt'', NULL])[1 + (i % 24)::int]';
CREATE FUNCTION pg_temp.unicode(i bigint) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT (ARRAY[
    '' 🎉'', '' ✨'', '' 🐘'', '' ❤️'', '' 😂'', '' café au lait'', '' naïve façade'', '' Grüße aus Köln'',
    '' 日本語のテキストです'', '' こんにちは世界'', '' Привет, мир'', '' Γειά σου'', '' مرحبا'',
    '' 👍🏽'', '' ☕'', '' 🌈'', '' 🦀'', '' ½ – ¾ — «quoted»''])[1 + (i % 18)::int]';

-- The text corpus: ~16 MB of words, ASCII only so that byte slices are valid UTF-8. A few hundred
-- common words make up about half of it and a Zipf-like tail of 20,000 made-up words the rest,
-- so that it compresses roughly like real posts.
CREATE TEMP TABLE vocab (rank int PRIMARY KEY, w text NOT NULL);
INSERT INTO vocab
SELECT i - 1, w FROM unnest(ARRAY['the','a','to','of','and','in','is','it','you','that','this','for','on','with','be',
    'are','have','not','but','just','so','my','new','like','what','all','at','was','about','from',
    'more','out','one','can','we','they','an','your','do','if','me','or','will','how','our','get',
    'by','no','up','people','now','time','today','think','know','good','there','some','when',
    'really','would','which','also','because','here','make','only','their','has','been','going',
    'see','thing','way','want','even','still','day','first','work','much','year','back','right',
    'after','too','over','then','could','need','love','great','last','never','look','something',
    'why','who','should','other','any','every','same','before','many','most','these','those','very',
    'well','again','always','little','long','world','life','home','thanks','please','yes','maybe',
    'morning','night','week','weekend','coffee','cat','dog','photo','music','book','game','code',
    'server','instance','post','toot','boost','thread','link','read','write','play','watch','going',
    'weather','rain','sun','city','train','bike','walk','friends','family','news','software',
    'update','release','bug','fix','open','source','free','data','backup','database','test',
    'learn','talk','feel','happy','tired','nice','cool','fun','hard','easy','big','small','old',
    'young','best','better','bad','sure','probably','already','almost','enough','though','while',
    'during','without','through','between','under','against','around','since','until','where']::text[])
    WITH ORDINALITY AS t(w, i);
INSERT INTO vocab
SELECT (SELECT count(*) FROM vocab) + i,
    (ARRAY['ka','lo','mi','ter','sun','vel','dor','an','ri','pho','gra','ble','tion','ing','con','pre',
           'stra','mo','ne','qua','zi','ex','ul','bor','fen','gal','hin','jur','lek','myr','nat','osk',
           'pir','rud','sel','tav','ump','vin','wex','yor'])[1 + pg_temp.h(i, 20) % 40] ||
    (ARRAY['ka','lo','mi','ter','sun','vel','dor','an','ri','pho','gra','ble','tion','ing','con','pre',
           'stra','mo','ne','qua','zi','ex','ul','bor','fen','gal','hin','jur','lek','myr','nat','osk',
           'pir','rud','sel','tav','ump','vin','wex','yor'])[1 + pg_temp.h(i, 21) % 40] ||
    CASE WHEN pg_temp.h(i, 22) % 3 = 0 THEN
    (ARRAY['ka','lo','mi','ter','sun','vel','dor','an','ri','pho','gra','ble','tion','ing','con','pre',
           'stra','mo','ne','qua','zi','ex','ul','bor','fen','gal','hin','jur','lek','myr','nat','osk',
           'pir','rud','sel','tav','ump','vin','wex','yor'])[1 + pg_temp.h(i, 23) % 40] ELSE '' END ||
    CASE WHEN pg_temp.h(i, 24) % 4 = 0 THEN 's' ELSE '' END
FROM generate_series(0, 19999) i;
CREATE TEMP TABLE corpus AS
SELECT convert_to(string_agg(v.w, CASE WHEN r.p < 0.06 THEN '. ' WHEN r.p < 0.1 THEN ', ' ELSE ' ' END
                              ORDER BY r.i), 'UTF8') AS b
FROM (SELECT i, random() AS p, floor((SELECT count(*) FROM vocab) * power(random(), 5))::int AS rank
      FROM generate_series(1, 2600000) i) r
JOIN vocab v ON v.rank = r.rank;
-- slice(corpus, corpus length, len): len bytes of the corpus from a random offset.
CREATE FUNCTION pg_temp.slice(b bytea, n int, len int) RETURNS text LANGUAGE sql VOLATILE
    AS 'SELECT convert_from(substring(b FROM 1 + floor(random() * n)::int FOR len), ''UTF8'')';

-- accounts ------------------------------------------------------------------------------------
INSERT INTO accounts (id, username, domain, private_key, public_key, created_at, updated_at, note,
    display_name, uri, url, avatar_file_name, avatar_content_type, avatar_file_size,
    avatar_updated_at, header_file_name, header_content_type, header_file_size, header_updated_at,
    avatar_remote_url, locked, header_remote_url, last_webfingered_at, inbox_url, outbox_url,
    shared_inbox_url, followers_url, protocol, memorial, moved_to_account_id,
    featured_collection_url, fields, actor_type, discoverable, also_known_as, silenced_at,
    suspended_at, hide_collections, avatar_storage_schema_version, header_storage_schema_version,
    devices_url, suspension_origin, sensitized_at, trendable, reviewed_at, requested_review_at,
    indexable)
SELECT
    pg_temp.aid(a), u, d,
    CASE WHEN d IS NULL THEN '-----BEGIN RSA PRIVATE KEY-----' || chr(10) ||
        encode(decode((SELECT string_agg(md5(a::text || '-' || k), '') FROM generate_series(1, 37) k), 'hex'), 'base64') ||
        chr(10) || '-----END RSA PRIVATE KEY-----' || chr(10) END,
    '-----BEGIN PUBLIC KEY-----' || chr(10) ||
        encode(decode((SELECT string_agg(md5(a::text || '+' || k), '') FROM generate_series(1, 17) k), 'hex'), 'base64') ||
        chr(10) || '-----END PUBLIC KEY-----' || chr(10),
    created, created + (pg_temp.h(a, 30) % 40000000) * interval '1 second',
    CASE WHEN pg_temp.h(a, 31) % 10 < 6 THEN '<p>' || pg_temp.slice(${corpus}, 20 + (pg_temp.h(a, 32) % 200)::int) || '</p>' ELSE '' END,
    CASE WHEN pg_temp.h(a, 33) % 10 < 8 THEN initcap(split_part(u, '_', 1)) || ' ' ||
        initcap(pg_temp.slice(${corpus}, 8)) || CASE WHEN pg_temp.h(a, 34) % 7 = 0 THEN pg_temp.unicode(a) ELSE '' END
        ELSE '' END,
    CASE WHEN d IS NULL THEN '' ELSE 'https://' || d || '/users/' || u END,
    CASE WHEN d IS NULL THEN NULL ELSE 'https://' || d || '/@' || u END,
    CASE WHEN pg_temp.h(a, 35) % 10 < 7 THEN substr(md5(a::text || 'av'), 1, 16) || '.png' END,
    CASE WHEN pg_temp.h(a, 35) % 10 < 7 THEN 'image/png' END,
    CASE WHEN pg_temp.h(a, 35) % 10 < 7 THEN (20000 + pg_temp.h(a, 36) % 400000)::int END,
    CASE WHEN pg_temp.h(a, 35) % 10 < 7 THEN created + interval '1 hour' END,
    CASE WHEN pg_temp.h(a, 37) % 10 < 4 THEN substr(md5(a::text || 'hd'), 1, 16) || '.jpeg' END,
    CASE WHEN pg_temp.h(a, 37) % 10 < 4 THEN 'image/jpeg' END,
    CASE WHEN pg_temp.h(a, 37) % 10 < 4 THEN (80000 + pg_temp.h(a, 38) % 2000000)::int END,
    CASE WHEN pg_temp.h(a, 37) % 10 < 4 THEN created + interval '2 hours' END,
    CASE WHEN d IS NOT NULL AND pg_temp.h(a, 35) % 10 < 7 THEN 'https://files.' || d || '/accounts/avatars/' || substr(md5(u), 1, 12) || '/original/' || substr(md5(a::text), 1, 16) || '.png' END,
    pg_temp.h(a, 39) % 12 = 0,
    CASE WHEN d IS NOT NULL AND pg_temp.h(a, 37) % 10 < 4 THEN 'https://files.' || d || '/accounts/headers/' || substr(md5(u), 1, 12) || '/original/' || substr(md5(a::text || 'h'), 1, 16) || '.jpeg' ELSE '' END,
    CASE WHEN d IS NOT NULL THEN created + (pg_temp.h(a, 40) % 60000000) * interval '1 second' END,
    CASE WHEN d IS NULL THEN '' ELSE 'https://' || d || '/users/' || u || '/inbox' END,
    CASE WHEN d IS NULL THEN '' ELSE 'https://' || d || '/users/' || u || '/outbox' END,
    CASE WHEN d IS NULL THEN '' ELSE 'https://' || d || '/inbox' END,
    CASE WHEN d IS NULL THEN '' ELSE 'https://' || d || '/users/' || u || '/followers' END,
    CASE WHEN d IS NULL THEN 0 ELSE 1 END,
    false,
    CASE WHEN a > 10 AND pg_temp.h(a, 41) % 200 = 0 THEN pg_temp.aid(a - 1 - pg_temp.h(a, 42) % 10) END,
    CASE WHEN d IS NULL THEN NULL ELSE 'https://' || d || '/users/' || u || '/collections/featured' END,
    CASE WHEN pg_temp.h(a, 43) % 10 < 3 THEN jsonb_build_array(
        jsonb_build_object('name', 'Website', 'value',
            '<a href="https://' || u || '.example.net" target="_blank" rel="nofollow noopener noreferrer me" translate="no"><span class="invisible">https://</span><span class="">' || u || '.example.net</span></a>'),
        jsonb_build_object('name', 'Pronouns', 'value', (ARRAY['she/her', 'he/him', 'they/them', 'any'])[1 + (pg_temp.h(a, 44) % 4)::int]))
        || CASE WHEN pg_temp.h(a, 43) % 3 = 0 THEN jsonb_build_array(jsonb_build_object('name', 'Location', 'value', initcap(pg_temp.slice(${corpus}, 12)))) ELSE '[]'::jsonb END
    END,
    CASE WHEN pg_temp.h(a, 45) % 50 = 0 THEN 'Service' WHEN d IS NULL THEN NULL ELSE 'Person' END,
    CASE WHEN pg_temp.h(a, 46) % 3 = 0 THEN NULL ELSE pg_temp.h(a, 46) % 3 = 1 END,
    CASE WHEN pg_temp.h(a, 47) % 100 = 0 THEN ARRAY['https://' || pg_temp.dom(a + 1) || '/users/' || u] END,
    CASE WHEN pg_temp.h(a, 48) % 300 = 0 THEN created + interval '30 days' END,
    CASE WHEN pg_temp.h(a, 48) % 300 = 1 THEN created + interval '60 days' END,
    CASE WHEN pg_temp.h(a, 49) % 20 = 0 THEN true END,
    1, 1,
    CASE WHEN d IS NULL THEN NULL ELSE 'https://' || d || '/users/' || u || '/collections/devices' END,
    CASE WHEN pg_temp.h(a, 48) % 300 = 1 THEN 0 END,
    NULL,
    CASE WHEN pg_temp.h(a, 50) % 5 = 0 THEN true END,
    NULL, NULL,
    pg_temp.h(a, 46) % 3 = 1
FROM (SELECT a, pg_temp.uname(a) AS u, pg_temp.adom(a) AS d,
             (to_timestamp(pg_temp.a_ms(a) / 1000.0) AT TIME ZONE 'UTC') AS created
      FROM generate_series(0::bigint, ${accounts} - 1) a OFFSET 0) s;

-- statuses ------------------------------------------------------------------------------------
INSERT INTO statuses (id, uri, text, created_at, updated_at, in_reply_to_id, reblog_of_id, url,
    sensitive, visibility, spoiler_text, reply, language, conversation_id, local, account_id,
    application_id, in_reply_to_account_id, poll_id, deleted_at, edited_at, trendable,
    ordered_media_attachment_ids)
SELECT
    s.id,
    'https://' || s.host || '/users/' || s.u || '/statuses/' || s.id || CASE WHEN s.rb THEN '/activity' ELSE '' END,
    CASE WHEN s.rb THEN ''
         WHEN s.loc THEN
            pg_temp.slice(${corpus}, 30 + (s.hx % 350)::int)
            || CASE WHEN s.hx % 4 = 0 THEN ' #' || pg_temp.tag(s.hx >> 8) ELSE '' END
            || CASE WHEN s.hx % 6 = 0 THEN ' @' || pg_temp.uname(s.hx % ${accounts}) || coalesce('@' || pg_temp.adom(s.hx % ${accounts}), '') ELSE '' END
            || CASE WHEN s.hx % 11 = 0 THEN ' https://' || pg_temp.dom(s.hx >> 4) || '/' || substr(md5(s.id::text), 1, 10) ELSE '' END
            || CASE WHEN s.hx % 9 = 0 THEN pg_temp.unicode(s.hx >> 5) ELSE '' END
         ELSE
            CASE WHEN s.rp THEN '<p><span class="h-card" translate="no"><a href="https://' || pg_temp.host(s.ra) || '/@' || pg_temp.uname(s.ra) || '" class="u-url mention">@<span>' || pg_temp.uname(s.ra) || '</span></a></span> ' ELSE '<p>' END
            || pg_temp.slice(${corpus}, 30 + (s.hx % 350)::int)
            || CASE WHEN s.hx % 9 = 0 THEN pg_temp.unicode(s.hx >> 5) ELSE '' END
            || CASE WHEN s.hx % 4 = 0 THEN ' <a href="https://' || s.host || '/tags/' || pg_temp.tag(s.hx >> 8) || '" class="mention hashtag" rel="tag">#<span>' || pg_temp.tag(s.hx >> 8) || '</span></a>' ELSE '' END
            || CASE WHEN s.hx % 11 = 0 THEN '</p><p><a href="https://' || pg_temp.dom(s.hx >> 4) || '/' || substr(md5(s.id::text), 1, 10) || '" target="_blank" rel="nofollow noopener noreferrer" translate="no"><span class="invisible">https://</span><span class="">' || pg_temp.dom(s.hx >> 4) || '/' || substr(md5(s.id::text), 1, 10) || '</span><span class="invisible"></span></a>' ELSE '' END
            || '</p>'
    END,
    s.created,
    CASE WHEN s.hx % 33 = 0 THEN s.created + interval '17 minutes' ELSE s.created END,
    CASE WHEN s.rp THEN pg_temp.sid(s.rt) END,
    CASE WHEN s.rb THEN pg_temp.sid(s.bt) END,
    CASE WHEN s.rb OR s.loc THEN NULL ELSE 'https://' || s.host || '/@' || s.u || '/' || s.id END,
    NOT s.rb AND s.hx % 20 = 0,
    CASE WHEN s.rb THEN (s.hx % 5 = 0)::int
         WHEN s.hx % 100 < 70 THEN 0 WHEN s.hx % 100 < 85 THEN 1 WHEN s.hx % 100 < 96 THEN 2 ELSE 3 END,
    CASE WHEN NOT s.rb AND s.hx % 20 = 0 THEN (ARRAY['CW: politics', 'spoilers', 'food', 'eye contact', 'mental health', 'long post', 'US politics', 'meta'])[1 + ((s.hx >> 3) % 8)::int] ELSE '' END,
    s.rp,
    CASE WHEN s.rb THEN NULL ELSE pg_temp.lang(s.hx >> 6) END,
    1 + pg_temp.h(CASE WHEN s.rp THEN s.rt ELSE s.g END, 11) % greatest(1, ${statuses} / 3),
    s.loc,
    pg_temp.aid(s.a),
    CASE WHEN s.loc AND NOT s.rb THEN 1 + s.hx % 25 END,
    CASE WHEN s.rp THEN pg_temp.aid(s.ra) END,
    NULL,
    CASE WHEN s.hx % 100 = 7 THEN s.created + interval '1 day' END,
    CASE WHEN s.hx % 33 = 0 THEN s.created + interval '17 minutes' END,
    NULL,
    CASE WHEN pg_temp.has_media(s.g) THEN
        CASE pg_temp.nmedia(s.g)
            WHEN 1 THEN ARRAY[pg_temp.mid(s.g, 1)]
            WHEN 2 THEN ARRAY[pg_temp.mid(s.g, 1), pg_temp.mid(s.g, 2)]
            WHEN 3 THEN ARRAY[pg_temp.mid(s.g, 1), pg_temp.mid(s.g, 2), pg_temp.mid(s.g, 3)]
            ELSE ARRAY[pg_temp.mid(s.g, 1), pg_temp.mid(s.g, 2), pg_temp.mid(s.g, 3), pg_temp.mid(s.g, 4)]
        END END
FROM (SELECT g, pg_temp.sid(g) AS id, pg_temp.sacct(g) AS a, pg_temp.uname(pg_temp.sacct(g)) AS u,
             pg_temp.host(pg_temp.sacct(g)) AS host, pg_temp.is_local(pg_temp.sacct(g)) AS loc,
             (to_timestamp(pg_temp.s_ms(g) / 1000.0) AT TIME ZONE 'UTC') AS created,
             pg_temp.is_rb(g) AS rb, pg_temp.is_reply(g) AS rp,
             pg_temp.rb_target(g) AS bt, pg_temp.reply_target(g) AS rt,
             pg_temp.sacct(pg_temp.reply_target(g)) AS ra,
             pg_temp.h(g, 12) AS hx
      FROM generate_series(1::bigint, ${statuses}) g OFFSET 0) s;

-- media_attachments ---------------------------------------------------------------------------
INSERT INTO media_attachments (id, status_id, file_file_name, file_content_type, file_file_size,
    file_updated_at, remote_url, created_at, updated_at, shortcode, type, file_meta, account_id,
    description, scheduled_status_id, blurhash, processing, file_storage_schema_version)
SELECT
    pg_temp.mid(m.g, m.k), pg_temp.sid(m.g),
    substr(md5(m.g::text || '/' || m.k), 1, 16) || (ARRAY['.jpeg', '.jpeg', '.jpeg', '.png', '.mp4', '.gif', '.jpeg', '.webp'])[1 + (m.hx % 8)::int],
    (ARRAY['image/jpeg', 'image/jpeg', 'image/jpeg', 'image/png', 'video/mp4', 'image/gif', 'image/jpeg', 'image/webp'])[1 + (m.hx % 8)::int],
    (30000 + (m.hx >> 4) % 6000000)::int,
    m.created,
    CASE WHEN m.loc THEN '' ELSE 'https://files.' || pg_temp.host(m.a) || '/media_attachments/files/' ||
        lpad(((m.g / 1000000) % 1000)::text, 3, '0') || '/' || lpad(((m.g / 1000) % 1000)::text, 3, '0') || '/' ||
        lpad((m.g % 1000)::text, 3, '0') || '/original/' || substr(md5(m.g::text || '/' || m.k), 1, 16) ||
        (ARRAY['.jpeg', '.jpeg', '.jpeg', '.png', '.mp4', '.gif', '.jpeg', '.webp'])[1 + (m.hx % 8)::int] END,
    m.created, m.created,
    CASE WHEN m.loc THEN substr(md5(m.g::text || 'sc' || m.k), 1, 19) END,
    (ARRAY[0, 0, 0, 0, 2, 1, 0, 0])[1 + (m.hx % 8)::int],
    json_build_object(
        'original', json_build_object('width', m.w, 'height', m.ht, 'size', m.w || 'x' || m.ht, 'aspect', round(m.w::numeric / m.ht, 6)),
        'small', json_build_object('width', m.w / 3, 'height', m.ht / 3, 'size', (m.w / 3) || 'x' || (m.ht / 3), 'aspect', round(m.w::numeric / m.ht, 6)),
        'focus', json_build_object('x', round(((m.hx >> 9) % 200 - 100) / 100.0, 2), 'y', round(((m.hx >> 11) % 200 - 100) / 100.0, 2))),
    pg_temp.aid(m.a),
    CASE WHEN m.hx % 10 < 4 THEN initcap(pg_temp.slice(${corpus}, 20 + (m.hx % 250)::int)) END,
    NULL,
    'U' || substr(translate(encode(decode(md5(m.g::text || m.k), 'hex') || decode(md5(m.k::text || m.g), 'hex'), 'base64'), '+/=', '#%*'), 1, 27),
    2, 1
FROM (SELECT g, k, pg_temp.sacct(g) AS a, pg_temp.is_local(pg_temp.sacct(g)) AS loc,
             (to_timestamp((pg_temp.s_ms(g) - k * 1000) / 1000.0) AT TIME ZONE 'UTC') AS created,
             pg_temp.h(g * 4 + k, 13) AS hx,
             (ARRAY[1920, 1280, 1080, 800, 4032, 640])[1 + (pg_temp.h(g, 14) % 6)::int] AS w,
             (ARRAY[1080, 720, 1920, 600, 3024, 480])[1 + (pg_temp.h(g, 15) % 6)::int] AS ht
      FROM generate_series(4::bigint, ${statuses}, 10) g
      CROSS JOIN LATERAL generate_series(1, pg_temp.nmedia(g)) k
      WHERE pg_temp.has_media(g) OFFSET 0) m;

-- follows -------------------------------------------------------------------------------------
INSERT INTO follows (id, created_at, updated_at, account_id, target_account_id, show_reblogs, uri,
    notify, languages)
SELECT
    f.i, f.created, f.created, pg_temp.aid(f.a), pg_temp.aid(f.t),
    f.hx % 20 <> 0,
    CASE WHEN pg_temp.is_local(f.a) THEN 'https://toot.example/' || md5(f.i::text || 'follow')
         ELSE 'https://' || pg_temp.adom(f.a) || '/' || substr(md5(f.i::text), 1, 8) || '-' || substr(md5(f.i::text), 9, 4) || '-' || substr(md5(f.i::text), 13, 4) || '-' || substr(md5(f.i::text), 17, 12) END,
    f.hx % 50 = 0,
    CASE WHEN f.hx % 100 = 1 THEN ARRAY['en', 'de']::character varying[] END
FROM (SELECT i, (i - 1) / ${follows_per} AS a,
             ((i - 1) / ${follows_per} + 1 + (i - 1) % ${follows_per}
               + floor((${accounts} - ${follows_per} - 2) * power(((i - 1) % ${follows_per})::numeric / ${follows_per}, 3))::bigint)
               % ${accounts} AS t,
             (to_timestamp(greatest(pg_temp.a_ms((i - 1) / ${follows_per}), pg_temp.a_ms(((i - 1) / ${follows_per} + 1 + (i - 1) % ${follows_per}) % ${accounts})) / 1000.0 + pg_temp.h(i, 16) % 8000000) AT TIME ZONE 'UTC') AS created,
             pg_temp.h(i, 17) AS hx
      FROM generate_series(1::bigint, ${follows}) i OFFSET 0) f;
SELECT setval('follows_id_seq', ${follows}) \\g /dev/null

-- favourites ----------------------------------------------------------------------------------
INSERT INTO favourites (id, created_at, updated_at, account_id, status_id)
SELECT v.i, v.created, v.created, pg_temp.aid(v.a), pg_temp.sid(v.g)
FROM (SELECT i, i % ${accounts} AS a,
             pg_temp.fav_g(((i / ${accounts}) * ${fav_p} + (i % ${accounts}) * 7919) % ${fav_span}) AS g,
             (to_timestamp(pg_temp.s_ms(pg_temp.fav_g(((i / ${accounts}) * ${fav_p} + (i % ${accounts}) * 7919) % ${fav_span})) / 1000.0
                           + 1 + pg_temp.h(i, 18) % 172800) AT TIME ZONE 'UTC') AS created
      FROM generate_series(1::bigint, ${favourites}) i OFFSET 0) v;
SELECT setval('favourites_id_seq', ${favourites}) \\g /dev/null

-- schema_migrations: Mastodon's migration versions run from 20160220174730 to (here) 20240307151700
INSERT INTO schema_migrations (version)
SELECT to_char(timestamp '2016-02-20 17:47:30' + (i * ((timestamp '2024-03-07 15:17:00' - timestamp '2016-02-20 17:47:30') / 1150))
               - (CASE WHEN i = 0 OR i = 1150 THEN 0 ELSE pg_temp.h(i, 19) % 80000 END) * interval '1 second',
               'YYYYMMDDHH24MISS')
FROM generate_series(0, 1150) i;
INSERT INTO ar_internal_metadata VALUES
    ('environment', 'production', timestamp '2016-11-23 08:01:12.123456', timestamp '2024-03-07 15:20:44.654321'),
    ('schema_sha1', md5('permafrost-test-schema'), timestamp '2023-09-19 10:00:00', timestamp '2024-03-07 15:20:44.654321');

SELECT setval('accounts_id_seq', ${accounts}) \\g /dev/null
SELECT setval('statuses_id_seq', ${statuses}) \\g /dev/null
SELECT setval('media_attachments_id_seq', (SELECT count(*) FROM media_attachments)) \\g /dev/null

-- indexes, as Mastodon 4.2 has them ------------------------------------------------------------
ALTER TABLE accounts ADD CONSTRAINT accounts_pkey PRIMARY KEY (id);
ALTER TABLE statuses ADD CONSTRAINT statuses_pkey PRIMARY KEY (id);
ALTER TABLE media_attachments ADD CONSTRAINT media_attachments_pkey PRIMARY KEY (id);
ALTER TABLE follows ADD CONSTRAINT follows_pkey PRIMARY KEY (id);
ALTER TABLE favourites ADD CONSTRAINT favourites_pkey PRIMARY KEY (id);

CREATE INDEX search_index ON accounts USING gin ((((setweight(to_tsvector('simple'::regconfig, (display_name)::text), 'A'::"char") || setweight(to_tsvector('simple'::regconfig, (username)::text), 'B'::"char")) || setweight(to_tsvector('simple'::regconfig, (COALESCE(domain, ''::character varying))::text), 'C'::"char"))));
CREATE UNIQUE INDEX index_accounts_on_username_and_domain_lower ON accounts USING btree (lower((username)::text), COALESCE(lower((domain)::text), ''::text));
CREATE INDEX index_accounts_on_domain_and_id ON accounts USING btree (domain, id);
CREATE INDEX index_accounts_on_moved_to_account_id ON accounts USING btree (moved_to_account_id) WHERE (moved_to_account_id IS NOT NULL);
CREATE INDEX index_accounts_on_uri ON accounts USING btree (uri);
CREATE INDEX index_accounts_on_url ON accounts USING btree (url text_pattern_ops) WHERE (url IS NOT NULL);

CREATE INDEX index_statuses_20190820 ON statuses USING btree (account_id, id DESC, visibility, updated_at) WHERE (deleted_at IS NULL);
CREATE INDEX index_statuses_local_20190824 ON statuses USING btree (id DESC, account_id) WHERE ((local OR (uri IS NULL)) AND (deleted_at IS NULL) AND (visibility = 0) AND (reblog_of_id IS NULL) AND ((NOT reply) OR (in_reply_to_account_id = account_id)));
CREATE INDEX index_statuses_public_20200119 ON statuses USING btree (id DESC, account_id) WHERE ((deleted_at IS NULL) AND (visibility = 0) AND (reblog_of_id IS NULL) AND ((NOT reply) OR (in_reply_to_account_id = account_id)));
CREATE INDEX index_statuses_on_deleted_at ON statuses USING btree (deleted_at) WHERE (deleted_at IS NOT NULL);
CREATE INDEX index_statuses_on_in_reply_to_account_id ON statuses USING btree (in_reply_to_account_id) WHERE (in_reply_to_account_id IS NOT NULL);
CREATE INDEX index_statuses_on_in_reply_to_id ON statuses USING btree (in_reply_to_id) WHERE (in_reply_to_id IS NOT NULL);
CREATE INDEX index_statuses_on_reblog_of_id_and_account_id ON statuses USING btree (reblog_of_id, account_id);
CREATE UNIQUE INDEX index_statuses_on_uri ON statuses USING btree (uri text_pattern_ops) WHERE (uri IS NOT NULL);

CREATE INDEX index_media_attachments_on_account_id_and_status_id ON media_attachments USING btree (account_id, status_id DESC);
CREATE INDEX index_media_attachments_on_scheduled_status_id ON media_attachments USING btree (scheduled_status_id) WHERE (scheduled_status_id IS NOT NULL);
CREATE UNIQUE INDEX index_media_attachments_on_shortcode ON media_attachments USING btree (shortcode text_pattern_ops) WHERE (shortcode IS NOT NULL);
CREATE INDEX index_media_attachments_on_status_id ON media_attachments USING btree (status_id);

CREATE UNIQUE INDEX index_follows_on_account_id_and_target_account_id ON follows USING btree (account_id, target_account_id);
CREATE INDEX index_follows_on_target_account_id ON follows USING btree (target_account_id);

CREATE INDEX index_favourites_on_account_id_and_id ON favourites USING btree (account_id, id);
CREATE UNIQUE INDEX index_favourites_on_account_id_and_status_id ON favourites USING btree (account_id, status_id);
CREATE INDEX index_favourites_on_status_id ON favourites USING btree (status_id);

-- foreign keys (Mastodon's constraint names) -------------------------------------------------
ALTER TABLE accounts ADD CONSTRAINT fk_rails_2320833084 FOREIGN KEY (moved_to_account_id) REFERENCES accounts(id) ON DELETE SET NULL;
ALTER TABLE statuses ADD CONSTRAINT fk_9bda1543f7 FOREIGN KEY (account_id) REFERENCES accounts(id) ON DELETE CASCADE;
ALTER TABLE statuses ADD CONSTRAINT fk_c7fa917661 FOREIGN KEY (in_reply_to_account_id) REFERENCES accounts(id) ON DELETE SET NULL;
ALTER TABLE statuses ADD CONSTRAINT fk_rails_94a6f70399 FOREIGN KEY (in_reply_to_id) REFERENCES statuses(id) ON DELETE SET NULL;
ALTER TABLE statuses ADD CONSTRAINT fk_rails_256483a9ab FOREIGN KEY (reblog_of_id) REFERENCES statuses(id) ON DELETE CASCADE;
ALTER TABLE media_attachments ADD CONSTRAINT fk_96dd81e81b FOREIGN KEY (account_id) REFERENCES accounts(id) ON DELETE SET NULL;
ALTER TABLE media_attachments ADD CONSTRAINT fk_rails_3ec0cfdd70 FOREIGN KEY (status_id) REFERENCES statuses(id) ON DELETE SET NULL;
ALTER TABLE follows ADD CONSTRAINT fk_32ed1b5560 FOREIGN KEY (account_id) REFERENCES accounts(id) ON DELETE CASCADE;
ALTER TABLE follows ADD CONSTRAINT fk_745ca29eac FOREIGN KEY (target_account_id) REFERENCES accounts(id) ON DELETE CASCADE;
ALTER TABLE favourites ADD CONSTRAINT fk_5eb6c2b873 FOREIGN KEY (account_id) REFERENCES accounts(id) ON DELETE CASCADE;
ALTER TABLE favourites ADD CONSTRAINT fk_b0e856845e FOREIGN KEY (status_id) REFERENCES statuses(id) ON DELETE CASCADE;

COMMIT;
SQL

say "loaded in $((SECONDS - start_s)) s; vacuum (freeze, analyze)"
run_psql -c 'VACUUM (FREEZE, ANALYZE) accounts, statuses, media_attachments, follows, favourites, schema_migrations, ar_internal_metadata'

if ((!quiet)); then
    run_psql -At -F ' ' <<'SQL' | while read -r name rows; do say "$(printf '  %-20s %10s rows' "$name" "$rows")"; done
SELECT 'accounts', count(*) FROM accounts UNION ALL
SELECT 'statuses', count(*) FROM statuses UNION ALL
SELECT 'media_attachments', count(*) FROM media_attachments UNION ALL
SELECT 'follows', count(*) FROM follows UNION ALL
SELECT 'favourites', count(*) FROM favourites UNION ALL
SELECT 'schema_migrations', count(*) FROM schema_migrations;
SQL
    size=$(run_psql -At -c "SELECT pg_database_size(current_database()) / 1048576")
    say "done in $((SECONDS - start_s)) s: pg_database_size $size MB"
fi
