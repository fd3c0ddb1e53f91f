#!/bin/sh
# The raw ceiling of serving read() by a copy from a mapping, with no
# mmapread: three 512 MiB files (4 KiB folios, 1 MiB folios, readahead) in
# DIR (default /tmp/ceil), about 5 minutes. Needs root only for `layout`.
#   sh doc/measure/ceil-run.sh [DIR]
set -e
src=$(cd "$(dirname "$0")" && pwd)
mkdir -p "${1:-/tmp/ceil}"
cd "${1:-/tmp/ceil}"
gcc -O2 -Wall -Wextra -o ceil "$src/ceil.c"
./ceil prep-fresh fresh.dat                 # 1 MiB writes -> ~1 MiB folios
dd if=fresh.dat of=f4k.dat bs=4k status=none && sync   # 4 KiB writes -> 4 KiB folios
./ceil prep-fresh ra.dat && ./ceil prep-readahead ra.dat   # DONTNEED + read back
for f in fresh.dat f4k.dat ra.dat; do ./ceil hold $f & echo $! >> holders.pid; done
sleep 3
for f in f4k.dat fresh.dat ra.dat; do
	echo "## $f"; ./ceil layout $f; ./ceil seq $f 9; ./ceil rand $f 21
done
./ceil bw ra.dat 7; ./ceil bw f4k.dat 7
echo "## f4k.dat MAP_POPULATE"; CEIL_POPULATE=1 ./ceil seq f4k.dat 7
kill $(cat holders.pid); rm holders.pid
