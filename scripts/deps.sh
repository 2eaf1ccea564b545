#!/usr/bin/env bash
# Installs the system packages stoq's plugins build and test against, with
# apt-get, when they are missing and we are root; otherwise prints the one
# apt-get line to run. Exit status 1 when something is missing and could not
# be installed.
#   libyara-dev            yara plugin (cgo, go-yara v4.2)
#   yara                   yara plugin tests compare with the yara command line
#   libimage-exiftool-perl exif plugin
#   osslsigncode           pecarve tests sign a PE to check Authenticode survives carving
#   python3-pefile python3-cryptography gcc-mingw-w64 binutils-mingw-w64-x86-64  peinfo tests compare with pefile on mingw-built PEs
#   pkg-config             finds libyara for cgo
set -euo pipefail

packages=(libyara-dev yara libimage-exiftool-perl osslsigncode pkg-config)
packages+=(python3-olefile libgsf-bin msitools) # ole plugin tests: olefile is the reference; gsf and msibuild write real compound files
packages+=(libmagic-dev file zip p7zip-full zstd lz4) # mimetype plugin (cgo libmagic); its tests compare with `file` and make samples with zip, 7z, zstd, lz4
packages+=(zip unzip p7zip-full bzip2 xz-utils zstd gcab cpio binutils) # decompress tests make archives with them; 7z is its fallback (cab, ar, cpio, ...)
packages+=(publicsuffix) # iocextract tests: the shipped TLD list is checked against Debian's list
packages+=(python3-pefile python3-cryptography gcc-mingw-w64 binutils-mingw-w64-x86-64) # peinfo
packages+=(python3) # smtp tests compare with Python's email package (/usr/bin/python3)
packages+=(git) # tools/release: git ls-files for the module zips, release tags; builder tests: bare repositories
packages+=(redis-server) # redis plugin tests and benchmarks start a real redis-server (Debian 12: 7.0)
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
