"""List the streams of compound files as olefile (Debian's python3-olefile) reads them.

Usage: python3 olefile_streams.py FILE...
Prints one JSON object per file, one per line: {"file": FILE, "error": null or
the message that OleFileIO raised, "streams": [{"path": [names], "size": n,
"sha256": hex, "error": null or the message openstream raised}]}, streams in
listdir(streams=True, storages=False) order, read with openstream as stoQ's
ole plugin reads them.
"""
import hashlib
import json
import sys

import olefile


def describe(path):
    out = {"file": path, "error": None, "streams": []}
    try:
        ole = olefile.OleFileIO(path)
    except Exception as err:  # olefile raises IOError, ValueError, struct.error...
        out["error"] = "%s: %s" % (type(err).__name__, err)
        return out
    for stream in ole.listdir(streams=True, storages=False):
        entry = {"path": stream, "size": None, "sha256": None, "error": None}
        try:
            data = ole.openstream(stream).read()
            entry["size"] = len(data)
            entry["sha256"] = hashlib.sha256(data).hexdigest()
        except Exception as err:
            entry["error"] = "%s: %s" % (type(err).__name__, err)
        out["streams"].append(entry)
    return out


if __name__ == "__main__":
    for name in sys.argv[1:]:
        print(json.dumps(describe(name)))
