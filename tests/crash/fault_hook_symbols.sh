#!/bin/sh
# The crash-test fault hook (shmbus::fault::reached) is in the shmbus library exactly when the
# build asked for it with -DSHMBUS_FAULT_INJECTION=ON: crash tests need it, and a release build
# must not carry it.
#
#   fault_hook_symbols.sh ON|OFF LIBRARY...
#
# Exit status: 0 as expected, 1 not, 77 skipped (no nm).
set -eu
want=$1
shift
if ! command -v nm >/dev/null 2>&1; then
    echo "skipped: nm is not installed"
    exit 77
fi
status=0
for library in "$@"; do
    case "$library" in
        *.so*) symbols=$(nm -C -D --defined-only "$library") ;;
        *) symbols=$(nm -C --defined-only "$library") ;;
    esac
    if printf '%s\n' "$symbols" | grep -q 'shmbus::fault::reached'; then
        have=ON
    else
        have=OFF
    fi
    if [ "$have" = "$want" ]; then
        echo "$library: fault hook $([ "$have" = ON ] && echo present || echo absent), as SHMBUS_FAULT_INJECTION=$want asks"
    else
        echo "$library: fault hook $([ "$have" = ON ] && echo present || echo absent), but SHMBUS_FAULT_INJECTION=$want" >&2
        status=1
    fi
done
exit $status
