#!/usr/bin/python3
"""Reference for the smtp plugin's decoding tests: reads a JSON list of
[op, arg, data] on stdin (data in base64) and prints what Python gives:

  b64      email._encoded_words.decode_b(data)      -> bytes, or null if it keeps the text
  qp       quopri.decodestring(data)                -> bytes
  uu       email.message._decode_uu(data)           -> bytes, or null on ValueError
  lookup   codecs.lookup(arg).name                  -> name, or null on LookupError
  decode   data.decode(arg, 'replace')              -> text, or null on LookupError
"""

import base64
import codecs
import json
import quopri
import sys
from email._encoded_words import decode_b
from email.message import _decode_uu


def b64(x):
    return base64.b64encode(x).decode()


def one(op, arg, data):
    if op == 'b64':
        value, defects = decode_b(data)
        return None if (value is data and data) else b64(value)
    if op == 'qp':
        return b64(quopri.decodestring(data))
    if op == 'uu':
        try:
            return b64(_decode_uu(data))
        except ValueError:
            return None
    if op == 'lookup':
        try:
            return codecs.lookup(arg).name
        except LookupError:
            return None
    if op == 'decode':
        try:
            return data.decode(arg, 'replace')
        except LookupError:
            return None
    raise ValueError(op)


def main():
    cases = json.load(sys.stdin)
    json.dump([one(op, arg, base64.b64decode(d)) for op, arg, d in cases], sys.stdout)


if __name__ == '__main__':
    main()
