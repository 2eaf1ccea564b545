#!/usr/bin/python3
"""Reference for the header tests of stoq's smtp plugin.

Reads a JSON list of [name, raw] pairs on stdin (raw: the header value's
bytes in base64, as the message parser stores them) and prints, for each,
what Python's email package (policy.default) makes of it: the value str()
shows, and for MIME headers the parameters Message.get_* find. A value on
which Python raises is reported as {"error": ...}.
"""

import base64
import email.message
import json
import sys
from email import policy


def sanitize(s):
    if s is None:
        return None
    return s.encode('utf-8', 'surrogateescape').decode('utf-8', 'replace')


def one(name, raw):
    value = raw.decode('ascii', 'surrogateescape')
    out = {}
    try:
        h = policy.default.header_fetch_parse(name, value)
        out['value'] = sanitize(str(h))
    except Exception as e:  # Python's own parser fails on this value
        return {'error': '%s: %s' % (type(e).__name__, e)}
    lname = name.lower()
    if lname in ('content-type', 'content-disposition'):
        m = email.message.EmailMessage()
        m._headers.append((name, value))
        try:
            out['type'] = m.get_content_type()
            out['filename'] = sanitize(m.get_filename())
            out['boundary'] = sanitize(m.get_boundary())
            out['charset'] = sanitize(m.get_content_charset())
            out['disposition'] = sanitize(m.get_content_disposition())
            out['is_attachment'] = m.is_attachment()
        except Exception as e:
            out['param_error'] = '%s: %s' % (type(e).__name__, e)
    if lname == 'content-transfer-encoding':
        out['cte'] = h.cte
    return out


def main():
    pairs = json.load(sys.stdin)
    json.dump([one(n, base64.b64decode(r)) for n, r in pairs], sys.stdout)


if __name__ == '__main__':
    main()
