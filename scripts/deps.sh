#!/usr/bin/env bash
# Installs the system packages stoq needs, with apt-get, when they are
# missing and we are root; otherwise prints the one apt-get line to run.
# Exit status 1 when something is missing and could not be installed.
#
#   deps.sh build   what building and running the catalogue needs (make)
#   deps.sh         that and what the tests compare with (make test, .ci/run)
set -euo pipefail

# Building and running the whole catalogue.
build=(
	pkg-config             # finds libyara and libmagic for cgo
	libyara-dev            # yara plugin (cgo, go-yara v4.2)
	libmagic-dev           # mimetype plugin (cgo libmagic)
	libimage-exiftool-perl # exif plugin runs exiftool
	p7zip-full             # decompress's fallback for cab, ar, cpio, rpm, iso, arj, lzh (optional, detected)
)

# The reference tools of the field the tests compare with, and the tools
# that make their samples. Under CI (CI=true) a missing one fails a test.
tests=(
	yara                                       # yara tests compare with the yara command line
	osslsigncode                               # pecarve and peinfo tests sign PEs
	python3                                    # /usr/bin/python3: smtp compares with Python's email package
	python3-pefile python3-cryptography        # peinfo compares with pefile (and certificates)
	gcc-mingw-w64 binutils-mingw-w64-x86-64    # peinfo tests build PEs and DLLs with mingw
	python3-olefile libgsf-bin msitools        # ole and mimetype: olefile is the reference; gsf and msibuild write compound files
	file                                       # mimetype compares with `file --mime-type`
	zip unzip bzip2 xz-utils zstd lz4 gcab cpio binutils # decompress and mimetype make archives with them
	publicsuffix                               # iocextract's shipped TLD list is checked against Debian's
	git                                        # tools/release (git ls-files, tags); builder tests make repositories
	redis-server                               # redis plugin tests and benchmarks start a real redis-server (Debian 12: 7.0)
)

packages=("${build[@]}")
if [ "${1:-all}" != build ]; then
	packages+=("${tests[@]}")
fi

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

line="apt-get update && apt-get install -y ${missing[*]}"
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
	echo "deps: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq "${missing[@]}" >/dev/null
	exit 0
fi
echo "deps: missing system packages: ${missing[*]}" >&2
echo "deps: run as root:  $line" >&2
exit 1
