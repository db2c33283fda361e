# Sourced by scripts/test: the services the suite starts need system packages —
# a JDK and Maven (Apache Kafka from its jars), PostgreSQL's server binaries, and
# Chromium for the monitor page's browser tests (Debian's package; no browser is
# ever downloaded by a test tool).
# Missing ones are installed with apt-get when this runs as root on Debian or
# Ubuntu (as CI does); otherwise the error names them and the command to run.
need=()
java_ok() {
  command -v java >/dev/null 2>&1 || [ -n "${JAVA_HOME:-}" ] || return 1
  local v; v=$("${JAVA_HOME:+$JAVA_HOME/bin/}java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
  [ -n "$v" ] && [ "$v" -ge 17 ]
}
java_ok || need+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null 2>&1 || need+=(maven)
pg_ok() {
  local d; d=$(pg_config --bindir 2>/dev/null)
  { [ -n "$d" ] && [ -x "$d/initdb" ]; } || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1
}
pg_ok || need+=(postgresql)
{ [ -n "${RTA_CHROMIUM:-}" ] || command -v chromium >/dev/null 2>&1; } || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing system packages the tests need: ${need[*]} (apt-get)..." >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
      || { echo "apt-get install ${need[*]} failed" >&2; exit 2; }
  else
    echo "The tests need these system packages: ${need[*]}." >&2
    echo "Install them (Debian/Ubuntu: sudo apt-get install ${need[*]}) and run again." >&2
    exit 2
  fi
fi
unset need
# Apache Kafka's jars, fetched by Maven once into a cache outside the work tree
python -m streams.local.kafka fetch || exit 2
