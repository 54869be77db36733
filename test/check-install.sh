#!/bin/sh
# Installs the library into scratch prefixes, then builds a user's program
# against each install twice, with pkg-config and with CMake's
# find_package(weft), and checks what it prints. Two layouts: the build's
# own LIBDIR (lib) and Debian's multiarch LIBDIR (lib/x86_64-linux-gnu),
# for which the library is configured and built again, alone.
set -eu
src=$1 build=$2 cc=$3 san=${4:-}
# A sanitized library needs the same runtime in the program that links it.
flags=""
[ -z "$san" ] || flags="-fsanitize=$san"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
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
# The program prints weft_strerror(ETIMEDOUT): the exact text, not just any.
want="timed out"

# check PREFIX LABEL: pkg-config and find_package builds against PREFIX.
check() {
    prefix=$1 label=$2
    pcdir=$(find "$prefix" -name pkgconfig -type d | head -n1)
    [ -n "$pcdir" ] || { echo "install ($label): no pkgconfig directory"; exit 1; }
    # The .pc file must find the prefix from where it is, whatever LIBDIR.
    got=$(PKG_CONFIG_PATH=$pcdir pkg-config --variable=includedir weft)
    [ -f "$got/weft.h" ] || { echo "install ($label): pkg-config includedir '$got' has no weft.h"; exit 1; }
    "$cc" $flags -o "$tmp/hello-pc" "$tmp/hello.c" $(PKG_CONFIG_PATH=$pcdir pkg-config --cflags --libs weft)
    got=$(LD_LIBRARY_PATH=$(dirname "$(find "$prefix" -name 'libweft.so' | head -n1)") "$tmp/hello-pc")
    [ "$got" = "$want" ] || { echo "install ($label): pkg-config build printed '$got', wanted '$want'"; exit 1; }
    rm -rf "$tmp/cm"
    mkdir "$tmp/cm"
    cat > "$tmp/cm/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.16)
project(hello C)
find_package(weft REQUIRED)
add_executable(hello ../hello.c)
target_link_libraries(hello PRIVATE weft::weft_static)
CM
    cmake -S "$tmp/cm" -B "$tmp/cm/b" -DCMAKE_C_COMPILER="$cc" -DCMAKE_C_FLAGS="$flags" \
        -DCMAKE_EXE_LINKER_FLAGS="$flags" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
    cmake --build "$tmp/cm/b" >/dev/null
    got=$("$tmp/cm/b/hello")
    [ "$got" = "$want" ] || { echo "install ($label): find_package build printed '$got', wanted '$want'"; exit 1; }
}

cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
check "$tmp/prefix" "LIBDIR=lib"

# Debian's multiarch layout, as GNUInstallDirs gives it with prefix /usr.
cmake -S "$src" -B "$tmp/ma" -DCMAKE_C_COMPILER="$cc" -DWEFT_SANITIZE="$san" -DWEFT_TOOL=OFF \
    -DWEFT_TESTS=OFF -DCMAKE_INSTALL_LIBDIR=lib/x86_64-linux-gnu >/dev/null
cmake --build "$tmp/ma" --target weft_shared weft_static -j 2 >/dev/null
cmake --install "$tmp/ma" --prefix "$tmp/prefix-ma" >/dev/null
[ -f "$tmp/prefix-ma/lib/x86_64-linux-gnu/pkgconfig/weft.pc" ] ||
    { echo "install (multiarch): weft.pc is not under lib/x86_64-linux-gnu"; exit 1; }
check "$tmp/prefix-ma" "LIBDIR=lib/x86_64-linux-gnu"
# As a subproject (add_subdirectory(weft)): weft's warnings and -Werror stay
# on weft's targets (the parent's code has an unused variable, which
# -Wall -Werror would refuse), and only the library is built by default.
mkdir "$tmp/parent"
ln -s "$src" "$tmp/parent/weft"
cat > "$tmp/parent/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.16)
project(parent C)
set(WEFT_WERROR ON CACHE BOOL "" FORCE)
add_subdirectory(weft)
add_executable(parent parent.c)
target_link_libraries(parent PRIVATE weft::weft_static)
CM
printf '#include <weft.h>\n#include <stdio.h>\nint main(void) { int unused; puts(weft_strerror(ETIMEDOUT)); return 0; }\n' >"$tmp/parent/parent.c"
cmake -S "$tmp/parent" -B "$tmp/parent/b" -DCMAKE_C_COMPILER="$cc" -DWEFT_SANITIZE="$san" \
    -DCMAKE_C_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" >/dev/null
cmake --build "$tmp/parent/b" -j 2 >/dev/null 2>"$tmp/parent.err" ||
    { cat "$tmp/parent.err"; echo "install: the parent project does not build (weft's flags leaked?)"; exit 1; }
got=$("$tmp/parent/b/parent")
[ "$got" = "$want" ] || { echo "install: the parent printed '$got'"; exit 1; }
if cmake --build "$tmp/parent/b" --target help | grep -q 'example-\|tool-test-\|weft_cli'; then
    echo "install: a parent project builds weft's examples, tests or tool by default"
    exit 1
fi
echo "install: pkg-config and find_package builds ran, for LIBDIR lib and lib/x86_64-linux-gnu; add_subdirectory keeps weft's flags and extras to itself"
