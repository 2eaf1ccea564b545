#!/usr/bin/python3
"""Reference for the message tests of stoq's smtp plugin.

Reads a JSON list of file paths on stdin and prints, for each message, what
Python's email package (email.message_from_bytes with policy.default) finds
in it, the way the smtp worker reports it:

  headers      every header under its lowercased name, repeated ones joined
               with "\n" (str() of each header object)
  body         get_body(('plain',)).get_content(), body_html for 'html'
  attachments  every part with a filename (get_filename() is not None) in
               walk order, not looking inside attached messages: filename,
               type, charset, disposition, content-description and the
               sha256 of get_payload(decode=True); and every attached message
               (message/rfc822, global, news) with the headers of the
               message inside

The worker departs from Python in two documented ways, done here too:
a text part without a charset, or with an ASCII one, is decoded as UTF-8
(Python decodes it as ASCII, every byte above 0x7F becoming U+FFFD), and a
Content-Transfer-Encoding that is the mechanism with only white space or
comments around it ("base64 ") decodes by the mechanism (Python compares
the whole header text and leaves such a body encoded). A charset Python
does not know decodes as UTF-8 (Python raises LookupError). Where Python
raises, the key is listed in "crashed" and not compared.
"""

import codecs
import email
import email.utils
import hashlib
import json
import quopri
import sys
from email import errors, policy
from email._encoded_words import decode_b
from email.message import _decode_uu


def sanitize(s):
    if s is None:
        return None
    return s.encode('utf-8', 'surrogateescape').decode('utf-8', 'replace')


def headers_of(msg, crashed):
    out = {}
    for k, v in msg._headers:
        key = sanitize(k.lower())
        try:
            val = sanitize(str(msg.policy.header_fetch_parse(k, v)))
        except Exception:
            crashed.append('header:' + key)
            continue
        out[key] = out[key] + '\n' + val if key in out else val
    return out


def transfer_encoding(part):
    h = part.get('content-transfer-encoding')
    if h is None:
        return ''
    if not any(isinstance(d, errors.InvalidHeaderDefect) for d in h.defects):
        return h.cte
    return str(h).lower()


def payload_bytes(part):
    """Message.get_payload(decode=True), but with transfer_encoding()."""
    if part.is_multipart():
        return None
    payload = part._payload
    bpayload = payload.encode('ascii', 'surrogateescape') if isinstance(payload, str) else payload
    cte = transfer_encoding(part)
    if cte == 'quoted-printable':
        return quopri.decodestring(bpayload)
    if cte == 'base64':
        return decode_b(b''.join(bpayload.splitlines()))[0]
    if cte in ('x-uuencode', 'uuencode', 'uue', 'x-uue'):
        try:
            return _decode_uu(bpayload)
        except ValueError:
            return bpayload
    return bpayload


def text_of(part):
    data = payload_bytes(part)
    cs = part.get_param('charset')
    if isinstance(cs, tuple):
        cs = email.utils.collapse_rfc2231_value(cs)
    if cs is None:
        return data.decode('utf-8', 'replace')
    try:
        if codecs.lookup(cs).name == 'ascii':
            return data.decode('utf-8', 'replace')
        return data.decode(cs, 'replace')
    except LookupError:
        return data.decode('utf-8', 'replace')


def walk(part):
    yield part
    if part.is_multipart() and part.get_content_maintype() == 'multipart':
        for sub in part.get_payload():
            yield from walk(sub)


def attachments_of(msg, crashed):
    out = []
    for part in walk(msg):
        try:
            if part.is_multipart() and part.get_content_maintype() == 'multipart':
                continue
            ctype = part.get_content_type()
            rec = {
                'type': ctype,
                'charset': sanitize(part.get_content_charset()),
                'content-description': sanitize(None if part.get('content-description') is None
                                                else str(part.get('content-description'))),
                'disposition': sanitize(part.get_content_disposition()),
                'filename': sanitize(part.get_filename()),
            }
            if ctype in ('message/rfc822', 'message/global', 'message/news'):
                inner_crashed = []
                inner = part.get_payload(0) if part.is_multipart() else None
                rec['message'] = True
                rec['inner_headers'] = headers_of(inner, inner_crashed) if inner is not None else None
                rec['inner_crashed'] = inner_crashed
                out.append(rec)
                continue
            if rec['filename'] is None:
                continue
            data = payload_bytes(part)
            rec['sha256'] = None if data is None else hashlib.sha256(data).hexdigest()
            rec['size'] = None if data is None else len(data)
            out.append(rec)
        except Exception as e:
            crashed.append('attachments')
            return out
    return out


def analyse(data):
    out = {'headers': {}, 'body': None, 'body_html': None, 'attachments': [], 'crashed': [], 'error': None}
    try:
        msg = email.message_from_bytes(data, policy=policy.default)
    except Exception as e:
        out['error'] = '%s: %s' % (type(e).__name__, e)
        return out
    out['headers'] = headers_of(msg, out['crashed'])
    for key, subtype in (('body', 'plain'), ('body_html', 'html')):
        try:
            part = msg.get_body(preferencelist=(subtype,))
            out[key] = '' if part is None else text_of(part)
            if part is not None:
                cs = part.get_param('charset')
                out[key + '_codec'] = None
                try:
                    out[key + '_codec'] = codecs.lookup(cs).name if isinstance(cs, str) else None
                except LookupError:
                    pass
        except Exception:
            out['crashed'].append(key)
    out['attachments'] = attachments_of(msg, out['crashed'])
    return out


def main():
    paths = json.load(sys.stdin)
    results = []
    for p in paths:
        with open(p, 'rb') as f:
            results.append(analyse(f.read()))
    json.dump(results, sys.stdout)


if __name__ == '__main__':
    sys.setrecursionlimit(10000)
    main()
