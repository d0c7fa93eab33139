#!/usr/bin/env bash
# What libshmbus.so exports (client/libshmbus.map): every function shmbus.h declares, under the
# symbol version SHMBUS_2, and nothing outside the C API and namespace shmbus.
#
# Usage: exports_test.sh LIBRARY HEADER
# Exit status: 0 passed, 1 a failure, 77 skipped (no nm or c++filt).
set -euo pipefail
library=${1:?usage: exports_test.sh LIBRARY HEADER}
header=${2:?usage: exports_test.sh LIBRARY HEADER}
fail() { echo "exports_test: FAIL: $*" >&2; exit 1; }
for tool in nm c++filt; do
  command -v "$tool" >/dev/null || { echo "skipped: $tool is not installed"; exit 77; }
done

# Defined dynamic symbols, with their versions (nm -D prints name@@VERSION).
exported=$(nm -D --defined-only --with-symbol-versions "$library" | awk '{ print $3 }')

# Every function of the header, exported from the C API's version node.
declared=$(grep -oE '\bshmbus_[a-z_]+\(' "$header" | tr -d '(' | sort -u)
[[ $(wc -l <<<"$declared") -gt 40 ]] || fail "found only $(wc -l <<<"$declared") functions in $header"
for function in $declared; do
  grep -qx "$function@@SHMBUS_2" <<<"$exported" || fail "$function is not exported as SHMBUS_2"
done

# C++ functions added to the API within SHMBUS_2 (an additive change: docs/COMPATIBILITY.md),
# exported from that node. The namespace wildcard in the map covers them; this notices if it
# ever stops doing so.
demangled=$(nm -DC --defined-only --with-symbol-versions "$library")
for symbol in 'shmbus::Publisher::flush()' \
              'shmbus::write_back(shmbus::Topic const&, shmbus::WriteBack)'; do
  grep -qF " $symbol@@SHMBUS_2" <<<"$demangled" || fail "$symbol is not exported as SHMBUS_2"
done

# Nothing else: the C API, the namespace shmbus and what the compiler makes for its classes.
leaked=$(sed 's/@.*//' <<<"$exported" | grep -v '^SHMBUS_2$' | grep -v '^shmbus_' | c++filt |
  grep -vE '^(typeinfo for |typeinfo name for |vtable for |VTT for |guard variable for |TLS init function for |TLS wrapper function for )?shmbus::' |
  grep -vE '^(typeinfo for |typeinfo name for |vtable for |VTT for |guard variable for |TLS init function for |TLS wrapper function for )?(void |bool |int |unsigned |long |char |std::[^ ]+ )?shmbus::' || true)
[[ -z "$leaked" ]] || fail "exported beyond the public API:"$'\n'"$leaked"
echo "exports_test: $(wc -l <<<"$declared") C functions exported as SHMBUS_2, nothing outside shmbus"
