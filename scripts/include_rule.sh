#!/usr/bin/env bash
# include_rule.sh [ROOT]: the layering rule of docs/ARCHITECTURE.md ("Layers"), checked on the sources:
#   - which folder's files may include which folder's headers (quoted includes, spelled from the root);
#   - server/'s top holds main.cpp only; every library is a sub-folder;
#   - no source file is over 400 lines;
#   - one error vocabulary (base/result.hpp): no layer-private result types, no variant<..., string> or
#     ToolFailure errors, no `std::string& error`-style out-parameters.
# Prints every violation and exits 1 if there is any. Run by ctest as `include_rule`.
set -uo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root" || exit 2

# Folder -> folders its files may include besides itself. server/main.cpp may include anything.
declare -A allowed=(
  [base]=""
  [crypto]="base"
  [storage]="base crypto"
  [rollout]="base"
  [server/app]="base crypto storage rollout"
  [server/mcp]="base server/app"
  [server/http]="base server/app server/mcp storage"
  [server/sync]="base server/app storage rollout"
  [server/tools]="base server/app server/mcp server/sync"
  [server/admin]="base server/app server/sync storage"
  [server/fixtures]="base server/mcp"
)

violations=0
fail() { echo "include_rule: $*"; violations=$((violations + 1)); }

# The folder (a key of `allowed`) a path belongs to, or empty.
folder_of() {
  local path=$1
  case $path in
    server/*/*) local sub=${path#server/}; echo "server/${sub%%/*}" ;;
    base/* | crypto/* | storage/* | rollout/*) echo "${path%%/*}" ;;
    *) echo "" ;;
  esac
}

for file in $(find base crypto storage rollout server \( -name '*.cpp' -o -name '*.hpp' -o -name '*.h' -o -name '*.ipp' \) | sort); do
  lines=$(wc -l < "$file")
  (( lines > 400 )) && fail "$file has $lines lines (at most 400)"
  if [[ $file == server/* && $file != server/*/* ]]; then
    [[ $file == server/main.cpp ]] || fail "$file: server/'s top holds main.cpp only; put it in a sub-folder"
    continue
  fi
  from=$(folder_of "$file")
  [[ -n $from && -v allowed[$from] ]] || { fail "$file is in a folder the rule does not know: add it to the table"; continue; }
  while IFS= read -r included; do
    if [[ $included == *..* ]]; then
      fail "$file includes \"$included\": no '..' in include paths (spell it from the repository root)"
      continue
    fi
    if [[ $included != */* ]]; then   # same folder, spelled without a path
      [[ -f $(dirname "$file")/$included ]] || fail "$file includes \"$included\": spell it from the repository root"
      continue
    fi
    to=$(folder_of "$included")
    if [[ -z $to ]]; then
      # rollout/adapters/x.hpp includes "adapter.hpp"-style paths relative to itself
      [[ -f $(dirname "$file")/$included ]] && continue
      fail "$file includes \"$included\", which is in no known folder"
      continue
    fi
    [[ $to == "$from" ]] && continue
    [[ " ${allowed[$from]} " == *" $to "* ]] || fail "$file ($from) includes \"$included\" ($to): $from may include only: ${allowed[$from]:-nothing of ours}"
  done < <(sed -n -e 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' \
                  -e 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*<\(\(base\|crypto\|storage\|rollout\|server\)\/[^>]*\)>.*/\1/p' "$file")
done

# One error vocabulary: every fallible call returns Result<T> (base/result.hpp), an Error with a code.
while IFS= read -r hit; do
  fail "$hit: use Result<T> and Error from base/result.hpp (one error vocabulary, docs/ARCHITECTURE.md \"Errors\")"
done < <(grep -rnE --include='*.cpp' --include='*.hpp' \
           -e '(storage|rollout|crypto)::(Result|Status|StorageError|OpenError)\b' \
           -e '\b(StorageError|OpenError|ToolFailure|Expected<|Unexpected<)' \
           -e 'variant<[^;]*(ToolFailure|std::string)>' \
           -e '[(,][[:space:]]*std::string[[:space:]]*&[[:space:]]*(error|problem|why|err|reason)[[:space:]]*[,)]' \
           base crypto storage rollout server)

if (( violations )); then echo "include_rule: $violations violation(s)"; exit 1; fi
echo "include_rule: ok"
