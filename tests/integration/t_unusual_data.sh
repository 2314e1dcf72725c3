#!/usr/bin/env bash
# Round trip of data that breaks naive tools: odd identifiers (spaces, quotes, dots, unicode, other
# schemas, 63 bytes), every byte value in bytea, json/jsonb/arrays, special floats and timestamps,
# a table without columns, a partitioned table, a large object, a materialized view and a 10 MB
# text value. The restored database must equal the source, and the manifest must name and count the
# odd tables right.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib/servers.sh
. "$root/tests/lib/servers.sh"
# shellcheck source=tests/lib/assert.sh
. "$root/tests/lib/assert.sh"
test_init

src=ud_src
pg_new_db "$src"
step "create the unusual data (as mastodon)"
psql_db "$src" >/dev/null <<'SQL'
CREATE TABLE "Weird Table" (id int PRIMARY KEY, "Mixed Case Col" text, "col with space" int);
INSERT INTO "Weird Table" VALUES (1, 'a', 1), (2, 'B', NULL), (3, '', 3);

CREATE TABLE "quote""d" (id int PRIMARY KEY, "it's" text);
INSERT INTO "quote""d" VALUES (1, 'single '' and double " quotes'), (2, E'back\\slash');

CREATE TABLE "dot.ted" (id int PRIMARY KEY);
INSERT INTO "dot.ted" SELECT generate_series(1, 5);

CREATE SCHEMA "other schema";
CREATE TABLE "other schema".t (id int PRIMARY KEY, v text);
INSERT INTO "other schema".t SELECT i, 'row ' || i FROM generate_series(1, 100) i;
CREATE SCHEMA archive;
CREATE TABLE archive.statuses (id bigint PRIMARY KEY, text text);
INSERT INTO archive.statuses VALUES (1, 'same table name as public.statuses');
CREATE TABLE statuses (id bigint PRIMARY KEY);
INSERT INTO statuses VALUES (1), (2);

CREATE TABLE "ünïcödé_täble_日本語" (id int PRIMARY KEY, "列" text, "émoji_🐘" text);
INSERT INTO "ünïcödé_täble_日本語" VALUES (1, 'こんにちは', '🐘🦣'), (2, 'Grüße', NULL);

CREATE TABLE "a_table_name_that_is_exactly_sixty_three_bytes_long_xxxxxxxxxxx" (id int);
INSERT INTO "a_table_name_that_is_exactly_sixty_three_bytes_long_xxxxxxxxxxx" VALUES (63);

-- every byte value: one row with all 256 in order, and one row per byte
CREATE TABLE bytes (id int PRIMARY KEY, b bytea);
INSERT INTO bytes SELECT 0, string_agg(set_byte('\x00'::bytea, 0, i), ''::bytea ORDER BY i)
    FROM generate_series(0, 255) i;
INSERT INTO bytes SELECT i + 1, set_byte('\x00'::bytea, 0, i) FROM generate_series(0, 255) i;
INSERT INTO bytes VALUES (1000, ''::bytea), (1001, NULL);

CREATE TABLE docs (id int PRIMARY KEY, j jsonb, js json, a int[], m int[][], ta text[],
                   t text);
INSERT INTO docs VALUES
 (1, '{"a": [1, 2.50, {"b": null}], "unicode": "\u00e9\u65e5\ud83d\udc18", "esc": "tab\there \"q\" \\"}',
     '{"dup": 1, "dup": 2,   "ws" :  [ 1 ,2 ] }', '{1,NULL,3}', '{{1,2},{3,4}}',
     ARRAY['comma,here', 'quote"here', 'back\slash', 'NULL', '', NULL, '{braces}', 'space here'],
     E'control chars: \x01\x02\x1f tab\t cr\r lf\n end'),
 (2, '[]', 'null', '{}', '{}', '{}', ''),
 (3, '{"big": 12345678901234567890123456789, "small": 1e-300, "neg": -0}', '"just a string"',
     NULL, NULL, NULL, NULL);

CREATE TABLE types (id int PRIMARY KEY, n numeric, f float8, r real, ts timestamptz, d date,
                    iv interval, u uuid, ip inet, c cidr, mac macaddr, bits bit varying,
                    rng int4range, tsv tsvector, pt point, money money, x xml, tm time);
INSERT INTO types VALUES
 (1, 'NaN', 'Infinity', '-Infinity', 'infinity', '4713-01-01 BC', '-1 year 2 mons 3 days 04:05:06.789',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '2001:db8::1/64', '10.0.0.0/8', '08:00:2b:01:02:03',
  B'1010101', '[1,10)', 'fat cat:1A rat:2B', '(1.5,-2.5)', '12.34', '<a b="c">d &amp; e</a>', '24:00:00'),
 (2, 0.000000000000000000000000000001, 1.7976931348623157e308, 1.17549435e-38, '-infinity',
  '294276-12-31', '0', '00000000-0000-0000-0000-000000000000', '0.0.0.0', '::/0', 'ff:ff:ff:ff:ff:ff',
  B'', 'empty', '', '(0,0)', '-92233720368547758.08', NULL, '00:00:00'),
 (3, -123456789012345678901234567890.123456789, '-0', 'NaN', '2000-02-29 12:34:56.789012+05:30',
  '2000-02-29', '1 microsecond', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);

CREATE TABLE empty_table (id int PRIMARY KEY, v text);
CREATE TABLE no_columns ();
INSERT INTO no_columns DEFAULT VALUES;
INSERT INTO no_columns DEFAULT VALUES;
INSERT INTO no_columns DEFAULT VALUES;

CREATE TABLE ident (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text);
INSERT INTO ident (v) VALUES ('x'), ('y');

CREATE TABLE parted (id int, v text) PARTITION BY RANGE (id);
CREATE TABLE parted_low PARTITION OF parted FOR VALUES FROM (0) TO (100);
CREATE TABLE parted_high PARTITION OF parted FOR VALUES FROM (100) TO (MAXVALUE);
INSERT INTO parted SELECT i, 'p' || i FROM generate_series(1, 250) i;

-- 10 MB of text in one value (md5 hex: compresses about 2:1, like real text does)
CREATE TABLE large_text (id int PRIMARY KEY, t text);
INSERT INTO large_text SELECT 1, string_agg(md5(i::text), '' ORDER BY i) FROM generate_series(1, 327680) i;

CREATE MATERIALIZED VIEW weird_summary AS SELECT count(*) AS n, max(id) AS max_id FROM "Weird Table";
CREATE VIEW "view with space" AS SELECT id FROM "dot.ted";
COMMENT ON TABLE "Weird Table" IS 'commentaire avec accents: é, and a quote: ''';

SELECT lo_from_bytea(424242, '\xdeadbeef00ff'::bytea);
SQL
size=$(psql_su -At -c "SELECT length(t) FROM large_text" -d "$src")
assert_eq 10485760 "$size" "large text length"
pg_fingerprint "$src" >"$T/src.fp"
pg_schema "$src" >"$T/src.schema"

write_conf "$T/pf.conf" "$src"
step "run"
assert_ok pf run db
mapfile -t dirs < <(snapshot_dirs db)
assert_eq 1 "${#dirs[@]}" "snapshots"
manifest=${dirs[0]}/manifest.json
assert_exists "$manifest"

step "manifest names and counts the odd tables"
python3 - "$manifest" <<'PY' || fail "manifest table list (see above)"
import json, sys
m = json.load(open(sys.argv[1]))
got = {(t["schema"], t["name"]): t["rows"] for t in m["postgres"]["tables"]}
want = {
    ("public", "Weird Table"): 3,
    ("public", 'quote"d'): 2,
    ("public", "dot.ted"): 5,
    ("other schema", "t"): 100,
    ("archive", "statuses"): 1,
    ("public", "statuses"): 2,
    ("public", "ünïcödé_täble_日本語"): 2,
    ("public", "bytes"): 259,
    ("public", "empty_table"): 0,
    ("public", "no_columns"): 3,
    ("public", "large_text"): 1,
}
bad = ["%s.%s: want %d, got %r" % (s, n, r, got.get((s, n))) for (s, n), r in want.items()
       if got.get((s, n)) != r]
if bad:
    print("manifest tables:", sorted(got.items()))
    sys.exit("wrong or missing: " + "; ".join(bad))
PY

step "restore and compare"
at_exit pg_drop_db ud_restored
assert_ok pf restore db latest --to "$(pg_conninfo_socket ud_restored)" --create
pg_fingerprint ud_restored >"$T/restored.fp"
assert_ok diff "$T/src.fp" "$T/restored.fp"
pg_schema ud_restored >"$T/restored.schema"
assert_ok diff "$T/src.schema" "$T/restored.schema"

lo=$(psql_su -d ud_restored -At -c "SELECT encode(lo_get(424242), 'hex')")
assert_eq "deadbeef00ff" "$lo" "large object"
mv=$(psql_su -d ud_restored -At -c "SELECT n || '/' || max_id FROM weird_summary")
assert_eq "3/3" "$mv" "materialized view contents"
allbytes=$(psql_su -d ud_restored -At -c "SELECT md5(b) = md5(decode(string_agg(lpad(to_hex(i), 2, '0'), '' ORDER BY i), 'hex')) FROM bytes, generate_series(0, 255) i WHERE id = 0 GROUP BY b")
assert_eq "t" "$allbytes" "the 256 byte values"
ident_next=$(psql_su -d ud_restored -At -c "INSERT INTO ident (v) VALUES ('z') RETURNING id")
assert_eq 3 "$ident_next" "identity sequence position"

echo "PASS"
