#!/usr/bin/env bash
# No Docker engine runs on the test machines, so this keeps docker/ and the systemd unit from rotting:
# every file the Dockerfile copies exists, its build steps call the README's scripts, the binary path it
# copies is where the build puts it, the container config and CLI it runs are valid, and the same holds
# for compose.yaml and the systemd unit; and for several instances on PostgreSQL, compose.postgres.yaml,
# config.postgres.toml and the template unit rollout-mcp@.service (parsed with python3's yaml and tomllib
# where present, checked with grep where not).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:?usage: packaging_test.sh /path/to/built/rollout-mcp}
dockerfile=$root/docker/Dockerfile
failures=0; passes=0; skips=0
check() { local name=$1; shift; if "$@"; then passes=$((passes+1)); echo "ok   $name"; else failures=$((failures+1)); echo "FAIL $name"; fi; }
skip() { skips=$((skips+1)); echo "skip $1 ($2)"; }

# COPY sources (build context = repository root) exist; --from=build copies come from the build tree.
while read -r src; do
  check "Dockerfile COPY source exists: $src" test -e "$root/$src"
done < <(awk '/^COPY / && !/--from=/ {for (i = 2; i < NF; i++) print $i}' "$dockerfile")
for script in $(grep -o 'scripts/[a-z_-]*\.sh' "$dockerfile" | sort -u); do
  check "Dockerfile calls an executable project script: $script" test -x "$root/$script"
done
check "the README documents the scripts the image uses" grep -q 'scripts/run.sh' "$root/README.md"
built_rel=$(awk '/^COPY --from=build/ {print $3}' "$dockerfile" | sed 's|^/src/build/||')
check "the image copies the binary from where the build puts it ($built_rel)" \
  test "${bin%/$built_rel}" != "$bin"
entry=$(grep -o 'ENTRYPOINT \["[^"]*"' "$dockerfile" | sed 's/ENTRYPOINT \["//;s/"$//')
check "ENTRYPOINT is the path the binary is copied to" grep -q "^COPY --from=build .* $entry\$" "$dockerfile"
config_in_image=$(awk '/^COPY docker\/config.toml/ {print $3}' "$dockerfile")
check "CMD uses the config the image ships" grep -q "\"$config_in_image\"" "$dockerfile"
check "the container config is valid" bash -c "\"$bin\" check-config -c \"$root/docker/config.toml\" >/dev/null"
check "the container config requires API keys" grep -q '^mode = "api_key"' "$root/docker/config.toml"
check "the container reads the master key from the Docker secret" \
  grep -q '^master_key_file = "/run/secrets/master_key"' "$root/docker/config.toml"
check "the image runs as a non-root user" grep -q '^USER rollout-mcp' "$dockerfile"
check "HEALTHCHECK probes /healthz" grep -q 'HEALTHCHECK.*curl.*/healthz' "$dockerfile"
check "the serve command line the image runs is accepted" bash -c "\"$bin\" serve --help >/dev/null"
# compose.yaml: its build points at this Dockerfile, its secret is the one the config reads.
check "compose builds docker/Dockerfile from the repository root" \
  bash -c "grep -q 'context: \.\.' '$root/docker/compose.yaml' && grep -q 'dockerfile: docker/Dockerfile' '$root/docker/compose.yaml'"
check "compose provides the master_key secret" grep -q '^  master_key:' "$root/docker/compose.yaml"
check "compose's env override names a real key" bash -c \
  "ROLLOUT_MCP_SERVER_ALLOWED_HOSTS=localhost,example.com '$bin' check-config -c '$root/docker/config.toml' >/dev/null"
check "the container serves TLS from the compose secrets" bash -c \
  "grep -q '^tls_cert_file = \"/run/secrets/tls_cert\"' '$root/docker/config.toml' && grep -q '^tls_key_file = \"/run/secrets/tls_key\"' '$root/docker/config.toml'"
check "compose provides the TLS secrets and publishes 443" bash -c \
  "grep -q '^  tls_cert:' '$root/docker/compose.yaml' && grep -q '^  tls_key:' '$root/docker/compose.yaml' && grep -q '\"443:8443\"' '$root/docker/compose.yaml'"
check "the container's port is the one its health check and EXPOSE use" bash -c \
  "grep -q '^port = 8443' '$root/docker/config.toml' && grep -q 'EXPOSE 8443' '$root/docker/Dockerfile' && grep -q 'https://127.0.0.1:8443/healthz' '$root/docker/Dockerfile'"
check "the unit reloads TLS with SIGHUP" grep -q '^ExecReload=/bin/kill -HUP \$MAINPID' "$root/docker/rollout-mcp.service"
# systemd: LoadCredential hands over master_key, which the server reads from $CREDENTIALS_DIRECTORY.
unit=$root/docker/rollout-mcp.service
check "the unit loads the master key as a credential" grep -q '^LoadCredential=master_key:' "$unit"
check "the unit's ExecStart runs serve --config" grep -q '^ExecStart=/usr/local/bin/rollout-mcp serve --config ' "$unit"
check "the server reads \$CREDENTIALS_DIRECTORY/master_key" grep -q 'CREDENTIALS_DIRECTORY' "$root/crypto/master_key.cpp"
# Several instances on PostgreSQL: docker/compose.postgres.yaml, docker/config.postgres.toml and the template unit.
pg_compose=$root/docker/compose.postgres.yaml
pg_config=$root/docker/config.postgres.toml
template=$root/docker/rollout-mcp@.service
check "compose.postgres.yaml has a postgres service on postgres:15" \
  bash -c "grep -q '^  postgres:' '$pg_compose' && grep -q '^    image: postgres:15\$' '$pg_compose'"
check "compose.postgres.yaml notes routing on Mcp-Session-Id" grep -q 'Mcp-Session-Id' "$pg_compose"
check "config.postgres.toml selects the postgresql backend" grep -q '^backend = "postgresql"' "$pg_config"
# No password in any file an operator copies as is: libpq takes it from PGPASSFILE (or PGPASSWORD, or the
# ROLLOUT_MCP_STORAGE_POSTGRESQL_URL override), postgres from a secret file. Comment lines are prose.
no_password_literal() {
  local f
  for f in "$root"/docker/*.toml "$root"/docker/*.yaml "$root"/docker/*.service "$root"/config.example.toml; do
    if grep -v '^[[:space:]]*#' "$f" | grep -Eiq \
        -e "[a-z]+://[^/@\"' ]+:[^/@\"' ]*@" -e "(^|[^_a-z])(pgpassword|postgres_password|password)[\"']?[[:space:]]*[:=][[:space:]]*[^[:space:]]"; then
      echo "  password literal in ${f#$root/}"; return 1
    fi
  done
}
check "no config, compose file or unit holds a password literal" no_password_literal
check "the secret files compose.postgres.yaml reads are git-ignored" bash -c \
  "for f in \$(grep -o 'file: \./[a-z_]*\$' '$pg_compose' | sed 's|file: \./||' | grep -v '\.toml\$'); do
     grep -qx \"\$f\" '$root/docker/.gitignore' || { echo \"  docker/\$f is not in docker/.gitignore\"; exit 1; }; done"

# Parsed: python3 with yaml for the compose file, tomllib (Python 3.11) for the config.
# pg_py EXPR: EXPR is true of compose (the parsed file), svc (its services), app (the services built from
# docker/Dockerfile, i.e. the rollout-mcp instances) and toml (the parsed config.postgres.toml).
pg_py() {
  python3 - "$root" "$1" <<'PY'
import sys, tomllib, yaml
root, expr = sys.argv[1], sys.argv[2]
compose = yaml.safe_load(open(root + "/docker/compose.postgres.yaml"))
svc = compose["services"]
app = {n: s for n, s in svc.items() if (s.get("build") or {}).get("dockerfile") == "docker/Dockerfile"}
toml = tomllib.load(open(root + "/docker/config.postgres.toml", "rb"))
def config_arg(s):  # the file `serve --config` reads
    cmd = s.get("command") or []
    return cmd[cmd.index("--config") + 1] if "--config" in cmd else None
def mounted(s, target):  # the repository file (relative to docker/) mounted at target, as a config or a bind
    for c in s.get("configs") or []:
        if isinstance(c, dict) and c.get("target") == target:
            return compose["configs"][c["source"]]["file"]
    for v in s.get("volumes") or []:
        if isinstance(v, str) and v.split(":")[1:2] == [target]:
            return v.split(":")[0]
def secret_names(s):
    return [x if isinstance(x, str) else x["source"] for x in s.get("secrets") or []]
try:
    ok = eval("(" + expr + ")")
except Exception as e:  # a missing key or a wrong shape: the check fails, naming it
    ok = False; print("  %s: %s" % (type(e).__name__, e))
if not ok: print("  false: " + " ".join(expr.split()))
sys.exit(0 if ok else 1)
PY
}
if ! command -v python3 >/dev/null || ! python3 -c 'import yaml, tomllib' 2>/dev/null; then
  skip "compose.postgres.yaml and config.postgres.toml parsed" "needs python3 >= 3.11 with yaml (python3-yaml)"
else
  check "compose.postgres.yaml parses as YAML" pg_py 'isinstance(svc, dict) and "postgres" in svc'
  check "postgres has a pg_isready health check" pg_py '"pg_isready" in " ".join(svc["postgres"]["healthcheck"]["test"])'
  check "postgres takes its password from a compose secret file" pg_py \
    'svc["postgres"]["environment"]["POSTGRES_PASSWORD_FILE"].split("/")[-1] in secret_names(svc["postgres"])
     and "POSTGRES_PASSWORD" not in svc["postgres"]["environment"]'
  check "at least two rollout-mcp instances" pg_py 'len(app) >= 2'
  check "every instance waits for postgres to be healthy" pg_py \
    'all(s["depends_on"]["postgres"]["condition"] == "service_healthy" for s in app.values())'
  check "every instance serves config.postgres.toml (backend postgresql)" pg_py \
    'all(mounted(s, config_arg(s)) == "./config.postgres.toml" for s in app.values())
     and toml["storage"]["backend"] == "postgresql"'
  check "every instance has the one shared master key the config reads" pg_py \
    'all("master_key" in secret_names(s) for s in app.values()) and compose["secrets"]["master_key"]["file"] == "./master_key"
     and toml["storage"]["master_key_file"] == "/run/secrets/master_key"'
  check "every instance's PGPASSFILE is a secret it has" pg_py \
    'all(s["environment"]["PGPASSFILE"].startswith("/run/secrets/")
         and s["environment"]["PGPASSFILE"].split("/")[-1] in secret_names(s) for s in app.values())'
  check "config.postgres.toml's URL names the postgres service and no password" pg_py \
    'toml["storage"]["postgresql_url"].startswith("postgresql://")
     and "@postgres:" in toml["storage"]["postgresql_url"]
     and ":" not in toml["storage"]["postgresql_url"].split("://")[1].split("@")[0]'
  check "the instances speak plain HTTP behind a proxy, published on loopback only" pg_py \
    'toml["server"]["behind_tls_proxy"] is True
     and all(p.startswith("127.0.0.1:") and p.endswith(":%d" % toml["server"]["port"]) for s in app.values() for p in s["ports"])'
  check "the instances' health check probes the config's port" pg_py \
    'all("http://127.0.0.1:%d/healthz" % toml["server"]["port"] in s["healthcheck"]["test"] for s in app.values())'
  check "the instances require API keys" pg_py 'toml["auth"]["mode"] == "api_key"'
fi
# The built binary: once it knows [storage] backend, the config must pass check-config as it is.
pg_check=$("$bin" check-config -c "$pg_config" 2>&1)
if grep -Eq 'storage\.(backend|postgresql_url): unknown key' <<<"$pg_check"; then
  skip "config.postgres.toml passes check-config" "this build has no PostgreSQL backend yet: $(grep -Eo 'storage\.[a-z_]+: unknown key' <<<"$pg_check")"
else
  check "config.postgres.toml passes check-config" bash -c "\"$bin\" check-config -c \"$pg_config\" >/dev/null"
  check "the template unit's ROLLOUT_MCP_STORAGE_BACKEND is read" bash -c \
    "! ROLLOUT_MCP_STORAGE_BACKEND=nonesuch \"$bin\" check-config -c \"$pg_config\" >/dev/null 2>&1"
fi

# The template unit: the single unit's hardening, credentials for the master key and libpq's password file,
# the listen port from the instance name.
hardening=$(grep -E '^(User|Group|NoNewPrivileges|Protect[A-Za-z]*|Private[A-Za-z]*|Restrict[A-Za-z]*|UMask|LimitCORE)=' "$unit")
check "the single unit has hardening to copy" bash -c "grep -q '^NoNewPrivileges=yes' <<<'$hardening' && grep -q '^ProtectSystem=strict' <<<'$hardening'"
while read -r line; do
  check "the template unit has the single unit's $line" grep -qxF "$line" "$template"
done <<<"$hardening"
check "the template unit loads the master key as a credential" grep -q '^LoadCredential=master_key:/etc/rollout-mcp/master_key$' "$template"
check "the template unit loads libpq's password file as a credential and points PGPASSFILE at it" bash -c \
  "grep -q '^LoadCredential=pgpass:/etc/rollout-mcp/pgpass\$' '$template' && grep -q '^Environment=PGPASSFILE=%d/pgpass\$' '$template'"
check "the template unit sets the port from the instance name" grep -q '^Environment=ROLLOUT_MCP_SERVER_PORT=%i$' "$template"
check "ROLLOUT_MCP_SERVER_PORT is read (a bad value is refused)" bash -c \
  "! ROLLOUT_MCP_SERVER_PORT=notaport \"$bin\" check-config -c \"$root/docker/config.toml\" >/dev/null 2>&1 &&
   ROLLOUT_MCP_SERVER_PORT=8081 \"$bin\" check-config -c \"$root/docker/config.toml\" >/dev/null"
check "the template unit forces the postgresql backend" grep -q '^Environment=ROLLOUT_MCP_STORAGE_BACKEND=postgresql$' "$template"
check "each instance has its own state directory" bash -c \
  "grep -q '^StateDirectory=rollout-mcp/%i\$' '$template' && grep -q '^Environment=ROLLOUT_MCP_STORAGE_DATA_DIR=/var/lib/rollout-mcp/%i\$' '$template'"
check "the template unit runs serve --config and reloads TLS with SIGHUP" bash -c \
  "grep -q '^ExecStart=/usr/local/bin/rollout-mcp serve --config ' '$template' && grep -q '^ExecReload=/bin/kill -HUP \\\$MAINPID' '$template'"
check "the template unit notes routing on Mcp-Session-Id" grep -q 'Mcp-Session-Id' "$template"
# systemd-analyze verify (where it works here: the single unit, with an executable ExecStart, is clean)
# catches misspelt directives and specifiers in an instance of the template.
verify_unit() {  # verify_unit FILE INSTANCE-NAME: no output from systemd-analyze verify
  local dir out; dir=$(mktemp -d)
  sed 's|^ExecStart=/usr/local/bin/rollout-mcp |ExecStart=/bin/true |' "$1" >"$dir/$2"
  out=$(systemd-analyze verify "$dir/$2" 2>&1); local rc=$?
  rm -rf "$dir"; [[ $rc -eq 0 && -z $out ]] || { echo "$out"; return 1; }
}
if command -v systemd-analyze >/dev/null && verify_unit "$unit" rollout-mcp.service >/dev/null; then
  check "systemd-analyze verify accepts rollout-mcp@8081.service" verify_unit "$template" rollout-mcp@8081.service
else
  skip "systemd-analyze verify accepts rollout-mcp@8081.service" "no usable systemd-analyze here"
fi
echo "$passes passed, $failures failed, $skips skipped"
[[ $failures -eq 0 ]]
