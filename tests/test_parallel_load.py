"""The data section loads over several COPY streams per table and arrives exactly: every row once, nothing else."""

from __future__ import annotations

import io
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backups.engine import pgtools
from backups.errors import RestoreFailed
from backups.proof import parallel_load
from backups.proof.parallel_load import ScriptReader, find_end_of_copy, load_data_section

# What a COPY text row may hold: tabs between fields, escapes (\\, \t, \N), dots; never a raw newline.
ROW = st.text(alphabet="ab.\\\t N0é", max_size=12).filter(lambda r: r != "\\.")


def read_script(data: bytes, chunk: int) -> list[tuple[str, bytes]]:
    """("line", ...) and ("copy", rows) items in order, as load_data_section sees them."""
    reader = ScriptReader(io.BytesIO(data), chunk)
    items = []
    while line := reader.line():
        if parallel_load.COPY_START.match(line):
            items.append(("copy", b"".join(b"".join(bytes(b) for b in part) for part in reader.copy_rows())))
        else:
            items.append(("line", line))
    return items


@settings(max_examples=200, deadline=None)
@given(first=st.lists(ROW, max_size=30), second=st.lists(ROW, max_size=30), chunk=st.integers(1, 40))
def test_rows_are_cut_on_line_boundaries_whatever_the_chunk_size(first, second, chunk):
    rows1 = "".join(r + "\n" for r in first).encode()
    rows2 = "".join(r + "\n" for r in second).encode()
    script = (b"SET client_encoding = 'UTF8';\n\nCOPY public.a (x) FROM stdin;\n" + rows1 + b"\\.\n\n"
              b"SELECT pg_catalog.setval('public.a_id_seq', 3, true);\nCOPY \"S\".\"b c\" (y) FROM stdin;\n" + rows2
              + b"\\.\n")
    assert read_script(script, chunk) == [
        ("line", b"SET client_encoding = 'UTF8';\n"), ("line", b"\n"), ("copy", rows1), ("line", b"\n"),
        ("line", b"SELECT pg_catalog.setval('public.a_id_seq', 3, true);\n"), ("copy", rows2),
    ]


def test_the_end_of_copy_is_a_line_of_its_own_even_among_many_backslashes():
    rows = b"".join(b"%d\t\\\\x0a0b\\\\.\n" % i for i in range(100))  # bytea-like rows, one ending in '\\.'
    data = rows + b"\\.\nSELECT 1;\n"
    assert find_end_of_copy(data, 0) == len(rows)
    assert find_end_of_copy(b"a\\.\n", 0) == -1  # '\\.' after other text is data
    assert find_end_of_copy(b"\\.\n", 0) == 0


def test_a_script_cut_inside_a_copy_block_is_refused():
    with pytest.raises(RestoreFailed, match="ended inside a COPY block"):
        read_script(b"COPY public.a (x) FROM stdin;\n1\n2\n", 4)


SOURCE = """
CREATE TABLE notes (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, body text, raw bytea, doc jsonb);
INSERT INTO notes (body, raw, doc)
  SELECT 'line ' || g || E'\\nwith\\ttab and \\\\ backslash and é', decode(md5(g::text), 'hex'),
         jsonb_build_object('g', g, 's', repeat('x', g % 50))
  FROM generate_series(1, 20000) g;
CREATE SEQUENCE counter START 1;
SELECT setval('counter', 4242);
SELECT lo_from_bytea(0, 'a large object');
"""
FINGERPRINT = "SELECT md5(string_agg(n::text, ',' ORDER BY id)) FROM notes n"


def dump_and_prepare(pg_server, make_source_db, tmp_path) -> tuple[str, str, object]:
    source = make_source_db(SOURCE, prefix="lbt_pload_src")
    target = make_source_db(prefix="lbt_pload_dst")
    archive = tmp_path / "source.dump"
    t = pg_server.target
    args = ["--host", t.host, "--port", str(t.port), "--username", t.user]
    subprocess.run([pgtools.pg_binary("pg_dump"), *args, "--format=custom", f"--file={archive}", source],
                   check=True, env=pg_server.env)
    subprocess.run([pgtools.pg_binary("pg_restore"), *args, "--section=pre-data", "--exit-on-error",
                    f"--dbname={target}", str(archive)], check=True, env=pg_server.env)
    return source, target, archive


def test_a_data_section_loads_over_several_streams_exactly(pg_server, make_source_db, tmp_path):
    source, target, archive = dump_and_prepare(pg_server, make_source_db, tmp_path)
    script = subprocess.run([pgtools.pg_binary("pg_restore"), "--section=data", "--file=-", str(archive)],
                            check=True, capture_output=True).stdout

    stats = load_data_section(io.BytesIO(script), pg_server.target.with_dbname(target), jobs=3,
                              chunk=64 * 1024)

    assert stats.streams == 3 and stats.tables == 1 and stats.bytes > 1_000_000  # many chunks, three connections
    assert pg_server.query(target, FINGERPRINT) == pg_server.query(source, FINGERPRINT)
    assert pg_server.query(target, "SELECT last_value FROM counter") == [(4242,)]  # via psql, in order
    assert pg_server.query(target, "SELECT convert_from(lo_get(oid), 'UTF8') FROM pg_largeobject_metadata") == [
        ("a large object",)]


def test_a_bad_row_fails_naming_the_table_and_leaves_no_connection(pg_server, make_source_db):
    target = make_source_db("CREATE TABLE t (id int, name text)", prefix="lbt_pload_bad")
    rows = b"".join(b"%d\tok\n" % i for i in range(5000)) + b"oops\tbad\n" + b"".join(
        b"%d\tok\n" % i for i in range(5000))
    script = b"COPY public.t (id, name) FROM stdin;\n" + rows + b"\\.\n"

    with pytest.raises(RestoreFailed, match=r"COPY public\.t .*invalid input syntax for type integer"):
        load_data_section(io.BytesIO(script), pg_server.target.with_dbname(target), jobs=2,
                          chunk=4096)

    assert pg_server.query("postgres", "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                                       "AND application_name = 'lifeboat-verify-load'", (target,)) == [(0,)]


def test_a_failing_statement_outside_copy_fails_with_psqls_message(pg_server, make_source_db):
    target = make_source_db(prefix="lbt_pload_psql")
    with pytest.raises(RestoreFailed, match="psql exited with status 3.*no_such_function"):
        load_data_section(io.BytesIO(b"SELECT no_such_function();\n"), pg_server.target.with_dbname(target),
                          jobs=2)
