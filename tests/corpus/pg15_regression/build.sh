#!/bin/sh
# Regenerates regression.sql.xz and globals.sql: the database PostgreSQL 15's own regression suite leaves behind.
#
#   tests/corpus/pg15_regression/build.sh [WORKDIR]      (Debian bookworm, as root or as a user who may run initdb)
#
# Needs: network access to deb.debian.org (apt), gcc, PostgreSQL 15 server binaries in /usr/lib/postgresql/15/bin,
# xz. Installs nothing system-wide: the source package and the server headers are unpacked into WORKDIR, regress.so
# is built there, and the suite runs against a private cluster (initdb) there, since it creates cluster-wide roles
# and tablespaces. CI never runs this; the test loads the files it wrote.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
WORK=${1:-$(mktemp -d /tmp/lbt_pg15_regression_XXXXXX)}
SOURCE_VERSION=${SOURCE_VERSION:-15.18-0+deb12u1}   # the postgresql-15 source in bookworm's main archive
BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
SYSLIB=$($BIN/pg_config --pkglibdir 2>/dev/null || echo /usr/lib/postgresql/15/lib)
PG_REGRESS=$SYSLIB/pgxs/src/test/regress/pg_regress
mkdir -p "$WORK" && cd "$WORK" && WORK=$(pwd)
chmod 755 "$WORK"

as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# 1. The regression suite's source (a deb-src entry for bookworm, in a private apt configuration) and the server
#    headers regress.c compiles against (postgresql-server-dev-15, unpacked, not installed).
mkdir -p apt/parts apt/lists/partial src deb
cat > apt/parts/bookworm-src.sources <<SOURCES
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
APT="-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts=$WORK/apt/parts -o Dir::State::Lists=$WORK/apt/lists"
apt-get -q $APT update
(cd src && apt-get -q $APT source --download-only "postgresql-15=$SOURCE_VERSION")
UPSTREAM=${SOURCE_VERSION%%-*}
tar -C src -xjf "src/postgresql-15_$UPSTREAM.orig.tar.bz2" "postgresql-$UPSTREAM/src/test/regress"
REGRESS=$WORK/src/postgresql-$UPSTREAM/src/test/regress
(cd deb && apt-get -q download postgresql-server-dev-15)
dpkg-deb -x deb/postgresql-server-dev-15_*.deb devroot

# 2. regress.so in a private library directory, beside the installed autoinc and refint (contrib/spi).
mkdir -p lib
gcc -O2 -fPIC -shared -I devroot/usr/include/postgresql/15/server -I devroot/usr/include/postgresql/internal \
    -o lib/regress.so "$REGRESS/regress.c"
ln -sf "$SYSLIB/autoinc.so" lib/autoinc.so
ln -sf "$SYSLIB/refint.so" lib/refint.so

# 3. A private cluster, then the parallel schedule (pg_regress makes the `regression` database).
mkdir -p cluster && chown postgres:postgres cluster 2>/dev/null || true
as_postgres $BIN/initdb -D cluster/data -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_postgres $BIN/pg_ctl -D cluster/data -l cluster/server.log -w start \
    -o "-p $PORT -c listen_addresses='' -k $WORK/cluster -c fsync=off"
trap 'as_postgres $BIN/pg_ctl -D "$WORK/cluster/data" -m immediate -w stop >/dev/null 2>&1 || true' EXIT
PSQL="$BIN/psql -X -h $WORK/cluster -p $PORT -U postgres"
mkdir -p results && chown postgres:postgres results 2>/dev/null || true  # the server writes COPY files there
# Some tests fail against a newer minor release or another locale: their expected output differs, the objects
# they leave are what matters here.
(cd "$REGRESS" && as_postgres $PG_REGRESS --host="$WORK/cluster" --port="$PORT" --user=postgres \
    --bindir="$BIN" --inputdir="$REGRESS" --outputdir="$WORK/results" --dlpath="$WORK/lib" \
    --schedule="$REGRESS/parallel_schedule" --max-connections=4) || echo "(some regression tests failed; see $WORK/results)"

# 4. Make the dump independent of this build: autoinc and refint point at the installed library ($libdir), and
#    everything that needs regress.so, which no server but this one has, is dropped (README.md lists it).
$PSQL -d regression -v ON_ERROR_STOP=1 -v lib="$WORK/lib/" -f "$HERE/detach.sql" 2> detach.log
cat detach.log

# 5. The database with its own properties (--create: its settings, comment, ACL), and the roles and tablespaces
#    it names (only the suite's own: regress_*).
$BIN/pg_dump -h "$WORK/cluster" -p "$PORT" -U postgres --create --no-sync -f regression.sql regression
$BIN/pg_dumpall -h "$WORK/cluster" -p "$PORT" -U postgres --globals-only --no-role-passwords -f globals.all.sql
python3 "$HERE/filter_globals.py" < globals.all.sql > "$HERE/globals.sql"
xz -9e -T1 -c regression.sql > "$HERE/regression.sql.xz"
ls -l "$HERE/regression.sql.xz" "$HERE/globals.sql"
