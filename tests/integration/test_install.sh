#!/bin/bash
# test_install.sh BUILDDIR - issue 12 item 14: right after `meson install`
# into the build's prefix (/usr/local), the installed mx starts, with no
# ldconfig run.  The install is real (no DESTDIR) but goes into a private
# mount namespace: a tmpfs over the prefix and an empty /etc/ld.so.cache
# (a machine where ldconfig never saw libmx), so nothing on this machine
# is touched.  Exit 77 (skip) without root or unshare.
set -u
build=$(cd "${1:?usage: test_install.sh BUILDDIR}" && pwd)
prefix=$(meson introspect "$build" --buildoptions |
    python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"][0])')
if [[ $(id -u) != 0 ]] || ! command -v unshare >/dev/null || ! unshare -m true 2>/dev/null; then
    echo "skip: needs root and mount namespaces"; exit 77
fi
exec unshare -m --propagation private bash -c '
    set -eu
    build=$1 prefix=$2
    mount -t tmpfs tmpfs "$prefix"
    : > /tmp/.mx-empty-ld-cache.$$
    mount --bind /tmp/.mx-empty-ld-cache.$$ /etc/ld.so.cache
    rm -f /tmp/.mx-empty-ld-cache.$$
    unset LD_LIBRARY_PATH
    DESTDIR=/ meson install -C "$build" --no-rebuild --quiet >/dev/null
    echo "installed: $(cd "$prefix" && find . -name "libmx.so*" -o -name mx -type f | sort | tr "\n" " ")"
    out=$("$prefix/bin/mx" --version 2>&1) || { echo "FAIL: $prefix/bin/mx does not start: $out"; exit 1; }
    echo "ok: $out"
' test_install "$build" "$prefix"
