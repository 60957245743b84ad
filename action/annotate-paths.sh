#!/usr/bin/env bash
# Filter for GitHub workflow commands: `::error file=profiles/x.yaml,...` names a file
# relative to the config repository; GitHub wants it relative to the workspace. Prefix
# every `file=` with ROOT (the action's `root` input) unless ROOT is the workspace.
set -euo pipefail
root="${1:-.}"
root="${root#./}"
root="${root%/}"
if [ -z "$root" ] || [ "$root" = "." ]; then
  exec cat
fi
root="${root//%/%25}"
root="${root//:/%3A}"
root="${root//,/%2C}"
while IFS= read -r line || [ -n "$line" ]; do
  case "$line" in
    "::"*" file="*) printf '%s\n' "${line/ file=/" file=$root/"}" ;;
    *) printf '%s\n' "$line" ;;
  esac
done
