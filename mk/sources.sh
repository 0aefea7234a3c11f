#!/bin/sh
# The one list of the project's sources: every file ending in .EXT below the
# given folders, sorted, one path a line. The Makefile and mk/*.mk call it
# through $(shell ...), nginx's `config` runs it at configure time, so a new
# file in a layer's folder (or a new subsystem folder) is picked up by every
# build at once.
#
#   mk/sources.sh ROOT EXT DIR...   paths below ROOT/DIR..., printed as ROOT/DIR/...
#                                   (as DIR/... when ROOT is ".")
set -eu
root=$1 ext=$2
shift 2
cd "$root"
for dir in "$@"; do
    find "$dir" -type f -name "*.$ext"
done | LC_ALL=C sort | if [ "$root" = . ]; then cat; else sed "s|^|$root/|"; fi
