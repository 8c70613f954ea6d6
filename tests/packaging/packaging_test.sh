#!/usr/bin/env bash
# No Docker engine runs on the test machines, so this keeps docker/ and the systemd unit from rotting:
# every file the Dockerfile copies exists, its build steps call the README's scripts, the binary path it
# copies is where the build puts it, the container config and CLI it runs are valid, and the same holds
# for compose.yaml and the systemd unit.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:?usage: packaging_test.sh /path/to/built/rollout-mcp}
dockerfile=$root/docker/Dockerfile
failures=0; passes=0
check() { local name=$1; shift; if "$@"; then passes=$((passes+1)); echo "ok   $name"; else failures=$((failures+1)); echo "FAIL $name"; fi; }

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
echo "$passes passed, $failures failed"
[[ $failures -eq 0 ]]
