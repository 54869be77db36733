#!/bin/sh
# Installs the build into a scratch prefix, then builds a user's program against
# it twice: with pkg-config and with CMake's find_package(weft). Runs both.
set -eu
src=$1 build=$2 cc=$3 san=${4:-}
# A sanitized library needs the same runtime in the program that links it.
flags=""
[ -z "$san" ] || flags="-fsanitize=$san"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
cat > "$tmp/hello.c" <<'C'
#include <weft.h>
#include <stdio.h>
int main(void)
{
    weft_lock *l;
    if (weft_lock_new(&l) != 0 || weft_lock_acquire(l, WEFT_FOREVER) != 0)
        return 1;
    weft_lock_release(l);
    weft_lock_free(l);
    printf("%s\n", weft_strerror(ETIMEDOUT));
    return 0;
}
C
libdir=$(ls -d "$tmp"/prefix/lib*)
PKG_CONFIG_PATH=$(find "$tmp/prefix" -name pkgconfig -type d | head -n1)
export PKG_CONFIG_PATH
"$cc" $flags -o "$tmp/hello-pc" "$tmp/hello.c" $(pkg-config --cflags --libs weft)
# The program prints weft_strerror(ETIMEDOUT): the exact text, not just any.
want="timed out"
got=$(LD_LIBRARY_PATH=$(dirname "$(find "$tmp/prefix" -name 'libweft.so' | head -n1)") "$tmp/hello-pc")
[ "$got" = "$want" ] || { echo "install: pkg-config build printed '$got', wanted '$want'"; exit 1; }
mkdir "$tmp/cm"
cat > "$tmp/cm/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.16)
project(hello C)
find_package(weft REQUIRED)
add_executable(hello ../hello.c)
target_link_libraries(hello PRIVATE weft::weft_static)
CM
cmake -S "$tmp/cm" -B "$tmp/cm/b" -DCMAKE_C_COMPILER="$cc" -DCMAKE_C_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/cm/b" >/dev/null
got=$("$tmp/cm/b/hello")
[ "$got" = "$want" ] || { echo "install: find_package build printed '$got', wanted '$want'"; exit 1; }
echo "install: pkg-config and find_package builds both ran"
