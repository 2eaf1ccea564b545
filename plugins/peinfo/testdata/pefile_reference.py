#!/usr/bin/python3
"""What pefile says about PE files, in peinfo's result keys.

usage: /usr/bin/python3 pefile_reference.py FILE...   (Debian's python3-pefile)

Prints one JSON object per line and file: {"error": "..."} when pefile does
not load it, else the values stoQ's peinfo plugin computes with pefile, with
peinfo's documented changes (README, "Differences from stoQ") applied, so
that the Go tests can compare them key by key:
  - section names up to their first NUL, long names (/4) read from the COFF
    string table; imports by ordinal that pefile cannot name as "ordN";
  - times in UTC; TLS callbacks read pointer-sized;
  - resources, version information and debug entries walked as stoQ walks
    them, skipping what would make stoQ's code raise;
  - certificates from python3-cryptography (the signature's certificate set
    only: nested signatures are not read here).
"""
import json
import struct
import sys
import time

import pefile
import peutils


def section_name(pe, s):
    name = s.Name.split(b"\0", 1)[0]
    if name.startswith(b"/") and name[1:].isdigit() and len(name) <= 10 and pe.FILE_HEADER.PointerToSymbolTable:
        table = pe.FILE_HEADER.PointerToSymbolTable + 18 * pe.FILE_HEADER.NumberOfSymbols
        data = pe.__data__
        start = table + int(name[1:])
        long = bytes(data[start:start + 0x200]).split(b"\0", 1)
        if len(long) == 2 and long[0]:
            name = long[0]
    return name.decode("utf-8", "replace")


def utc(ts):
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts))


def imports(pe):
    out = {}
    for desc in getattr(pe, "DIRECTORY_ENTRY_IMPORT", []):
        dll = desc.dll.decode(errors="ignore")
        out.setdefault(dll, [])
        for imp in desc.imports:
            out[dll].append(imp.name.decode(errors="ignore") if imp.name else "ord%d" % imp.ordinal)
    return out


def exports(pe):
    if not hasattr(pe, "DIRECTORY_ENTRY_EXPORT"):
        return []
    return [e.name.decode(errors="ignore") for e in pe.DIRECTORY_ENTRY_EXPORT.symbols if e.name]


def resources(pe):
    out = []
    if not hasattr(pe, "DIRECTORY_ENTRY_RESOURCE"):
        return out
    for typ in pe.DIRECTORY_ENTRY_RESOURCE.entries:
        type_name = pefile.RESOURCE_TYPE.get(typ.id, "unknown")
        for name in getattr(getattr(typ, "directory", None), "entries", []):
            for lang in getattr(getattr(name, "directory", None), "entries", []):
                if not hasattr(lang, "data"):
                    continue
                rva = lang.data.struct.OffsetToData
                try:
                    offset = pe.get_offset_from_rva(rva)
                except pefile.PEFormatError:
                    offset = None
                label = lang.id if lang.id is not None else str(lang.name)
                out.append({
                    "type": type_name,
                    "resource_id": lang.id,
                    "resource_type": lang.data.struct.name,
                    "address": rva,
                    "offset": offset,
                    "language": pefile.LANG.get(lang.data.lang, "unknown"),
                    "sub_language": pefile.get_sublang_name_for_lang(lang.data.lang, lang.data.sublang),
                    "size": lang.data.struct.Size,
                    "name": "resource_%s_%s" % (type_name, label),
                })
    return out


def version_info(pe):
    out = {}
    for finfo in getattr(pe, "FileInfo", []):
        for entry in finfo:
            for table in getattr(entry, "StringTable", []):
                for key, value in table.entries.items():
                    out[key.decode(errors="ignore")] = value.decode(errors="ignore")
    return out


def tls_callbacks(pe):
    if not hasattr(pe, "DIRECTORY_ENTRY_TLS"):
        return []
    va = pe.DIRECTORY_ENTRY_TLS.struct.AddressOfCallBacks
    if va == 0 or va < pe.OPTIONAL_HEADER.ImageBase:
        return []
    size = 8 if pe.PE_TYPE == pefile.OPTIONAL_HEADER_MAGIC_PE_PLUS else 4
    out = []
    for i in range(255):
        try:
            data = pe.get_data(va - pe.OPTIONAL_HEADER.ImageBase + size * i, size)
        except pefile.PEFormatError:
            break
        if len(data) < size:
            break
        value = int.from_bytes(data, "little")
        if value == 0:
            break
        out.append(value)
    return out


def debug_info(pe):
    out = []
    for debug in getattr(pe, "DIRECTORY_ENTRY_DEBUG", []):
        s = debug.struct
        entry = {
            "MajorVersion": s.MajorVersion,
            "MinorVersion": s.MinorVersion,
            "SizeOfData": s.SizeOfData,
            "TimeDateStamp": s.TimeDateStamp,
            "TimeDateString": utc(s.TimeDateStamp),
            "Type": s.Type,
        }
        if s.Type == 2:
            if s.SizeOfData < 24 or s.SizeOfData > 0xFFFF:
                continue
            data = pe.__data__[s.PointerToRawData:s.PointerToRawData + s.SizeOfData]
            if len(data) >= 24 and data[:4] == b"RSDS":
                d1, d2, d3 = struct.unpack("<IHH", data[4:12])
                entry["DebugSig"] = "RSDS"
                entry["DebugGUID"] = "%08x-%04x-%04x-%s-%s" % (d1, d2, d3, data[12:14].hex(), data[14:20].hex())
                entry["DebugAge"] = struct.unpack("<I", data[20:24])[0]
                entry["DebugPDB"] = data[24:].split(b"\0", 1)[0].decode("utf-8", "replace")
            elif len(data) >= 24 and data[:4] == b"NB10":
                entry["DebugSig"] = "NB10"
                entry["DebugTime"] = struct.unpack("<I", data[8:12])[0]
                entry["DebugAge"] = struct.unpack("<I", data[12:16])[0]
                entry["DebugPDB"] = data[16:].split(b"\0", 1)[0].decode("utf-8", "replace")
        out.append(entry)
    return out


def certificates(pe):
    try:
        from cryptography.hazmat.primitives.serialization import pkcs7
    except ImportError:
        return None
    out = []
    security = pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_SECURITY"]
    if len(pe.OPTIONAL_HEADER.DATA_DIRECTORY) <= security:
        return out
    entry = pe.OPTIONAL_HEADER.DATA_DIRECTORY[security]
    at, end = entry.VirtualAddress, entry.VirtualAddress + entry.Size
    data = pe.__data__
    while at + 8 <= end and at + 8 <= len(data):
        length, revision, typ = struct.unpack("<IHH", data[at:at + 8])
        if length == 0 or at + length > end or revision not in (0x100, 0x200):
            break
        if revision == 0x200 and typ == 2:
            for cert in pkcs7.load_der_pkcs7_certificates(bytes(data[at + 8:at + length])):
                out.append({
                    "subject": cert.subject.rfc4514_string(),
                    "issuer": cert.issuer.rfc4514_string(),
                    "serial_number": "%x" % cert.serial_number,
                    "not_before": cert.not_valid_before.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "not_after": cert.not_valid_after.strftime("%Y-%m-%dT%H:%M:%SZ"),
                })
        at += (length + 7) & ~7
    return out


def describe(path):
    with open(path, "rb") as f:
        data = f.read()
    try:
        pe = pefile.PE(data=data)
    except Exception as e:  # pefile raises more than PEFormatError on damaged files
        return {"error": "%s: %s" % (type(e).__name__, e)}
    out = {
        "imphash": pe.get_imphash(),
        "compile_time_epoch": pe.FILE_HEADER.TimeDateStamp,
        "compile_time": utc(pe.FILE_HEADER.TimeDateStamp),
        "image_base": pe.OPTIONAL_HEADER.ImageBase,
        "entrypoint": pe.OPTIONAL_HEADER.AddressOfEntryPoint,
        "machine_type": pefile.MACHINE_TYPE.get(pe.FILE_HEADER.Machine),
        "is_exe": pe.is_exe(),
        "is_dll": pe.is_dll(),
        "is_driver": pe.is_driver(),
        "is_packed": peutils.is_probably_packed(pe),
        "imports": imports(pe),
        "exports": exports(pe),
        "sections": [
            {
                "name": section_name(pe, s),
                "md5": s.get_hash_md5(),
                "virtaddr": s.VirtualAddress,
                "virtsize": s.Misc_VirtualSize,
                "raw_size": s.SizeOfRawData,
                "entropy": s.get_entropy(),
            }
            for s in pe.sections
        ],
        "resources": resources(pe),
        "version_info": version_info(pe),
        "rich_header": pe.get_rich_header_hash(),
        "tls_callbacks": tls_callbacks(pe),
        "debug_info": debug_info(pe),
    }
    certs = certificates(pe)
    if certs is not None:
        out["certificates"] = certs
    return out


def main():
    for path in sys.argv[1:]:
        try:
            result = describe(path)
        except Exception as e:  # a quirk of this script, not of the file
            result = {"error": "reference script: %s: %s" % (type(e).__name__, e)}
        print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
